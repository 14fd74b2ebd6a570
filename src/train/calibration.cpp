#include "train/calibration.h"

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "train/estimate_request_json.h"
#include "train/hardware_profile.h"
#include "train/step_plan.h"

namespace llmtune::train {

namespace fs = std::filesystem;

StepTimeFit fit_from_measurements(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(ErrorKind::not_found, "cannot read measurements file " + path);
    std::vector<TimeSample> steps;
    std::vector<JobSample> jobs;
    std::string line;
    int line_no = 0;
    int64_t runs = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.empty()) continue;
        const std::string where = path + ":" + std::to_string(line_no);
        const json m = parse_json_text(line, where);
        const auto req = estimate_request_from_json(m.at("request"), where);
        const auto hw = parse_hardware_profile(m.at("profile"), where);
        const auto measured = m.at("step_s").get<std::vector<double>>();
        const StepPlan plan = plan_steps(req.train_rows, req.valid_rows, req.plan);
        if (plan.steps.size() != measured.size())
            throw_invalid(where + ": " + std::to_string(measured.size()) + " measured steps, but the "
                          "plan has " + std::to_string(plan.steps.size()));
        ShapeContext ctx{req.model, req.method, req.weight_bytes, req.gradient_checkpointing};
        double sum = 0;
        for (size_t i = 0; i < measured.size(); ++i) {
            steps.push_back({step_features(ctx, plan.steps[i], hw), measured[i]});
            sum += measured[i];
        }
        ++runs;
        if (plan.evaluations == 0)  // the overhead of runs without evaluation only
            jobs.push_back({m.at("wall_s").get<double>() - sum,
                            job_gigabytes(count_parameter_roles(req.model, req.method),
                                                 req.weight_bytes)});
    }
    StepTimeFit fit = fit_step_time(steps, jobs);
    fit.fitted_on = std::to_string(runs) + " `llmtune bench estimate --calibrate` runs in " +
                    fs::path(path).filename().string();
    return fit;
}

}  // namespace llmtune::train
