#include "sagemaker/metric_lines.h"

#include <cstdio>

namespace llmtune::sagemaker {

namespace {

// %.7g keeps 7 significant digits and writes 1e-05 style exponents, which the value pattern
// below accepts; nan/inf never reach SageMaker (the trainer stops on a non-finite loss).
std::string num(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.7g", v);
    return buf;
}

// A number as %g prints it. The leading "[llmtune] " and the "name=" anchor keep the regexes
// from matching anything else in the log (valid_loss= never matches train_loss=).
const char* const kValue = "([-+]?[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?)";

}  // namespace

const std::vector<MetricDefinition>& metric_definitions() {
    static const std::vector<MetricDefinition> defs = {
        {"train_loss", std::string("\\[llmtune\\] .*\\btrain_loss=") + kValue},
        {"valid_loss", std::string("\\[llmtune\\] .*\\bvalid_loss=") + kValue},
        {"tokens_per_s", std::string("\\[llmtune\\] .*\\btokens_per_s=") + kValue},
        {"valid_mean_token_accuracy",
         std::string("\\[llmtune\\] .*\\bvalid_mean_token_accuracy=") + kValue},
        {"learning_rate", std::string("\\[llmtune\\] .*\\blr=") + kValue},
    };
    return defs;
}

std::string metric_line(const ordered_json& event) {
    const std::string type = event.value("type", "");
    const std::string step = std::to_string(event.value("step", int64_t{0}));
    if (type == "train") {
        std::string line = "[llmtune] step=" + step;
        if (event.contains("train_loss")) line += " train_loss=" + num(event["train_loss"].get<double>());
        if (event.contains("tokens_per_s"))
            line += " tokens_per_s=" + num(event["tokens_per_s"].get<double>());
        if (event.contains("lr")) line += " lr=" + num(event["lr"].get<double>());
        return line;
    }
    if (type == "eval") {
        std::string line = "[llmtune] step=" + step;
        if (event.contains("valid_loss")) line += " valid_loss=" + num(event["valid_loss"].get<double>());
        if (event.contains("valid_mean_token_accuracy"))
            line += " valid_mean_token_accuracy=" +
                    num(event["valid_mean_token_accuracy"].get<double>());
        return line;
    }
    return "";
}

}  // namespace llmtune::sagemaker
