#include "service/job_spec.h"

#include <cmath>

#include "service/sagemaker_requests.h"
#include "service/service_error.h"

namespace llmtune::service {

namespace {

// A hyperparameter: "auto" (nullopt) or a number in range.
template <typename T>
std::optional<T> auto_or_number(const ordered_json& v, const std::string& param, T lo, T hi) {
    if (v.is_string() && v.get<std::string>() == "auto") return std::nullopt;
    bool ok = std::is_integral<T>::value ? v.is_number_integer() : v.is_number();
    if (!ok)
        throw_invalid_param(param, "Invalid value for '" + param + "': expected " +
                                       (std::is_integral<T>::value ? "an integer" : "a number") +
                                       " or 'auto', got " + v.dump() + ".");
    T x = v.get<T>();
    if (!(x >= lo && x <= hi))
        throw_invalid_param(param, "Invalid value for '" + param + "': " + v.dump() +
                                       " is out of range [" + std::to_string(lo) + ", " +
                                       std::to_string(hi) + "].");
    return x;
}

int64_t get_int(const ordered_json& o, const char* key, const std::string& path, int64_t lo,
                int64_t hi, int64_t dflt) {
    if (!o.contains(key) || o[key].is_null()) return dflt;
    auto v = auto_or_number<int64_t>(o[key], path + "." + key, lo, hi);
    if (!v) throw_invalid_param(path + "." + key, "'" + path + "." + key + "' cannot be 'auto'.");
    return *v;
}

double get_num(const ordered_json& o, const char* key, const std::string& path, double lo,
               double hi, double dflt) {
    if (!o.contains(key) || o[key].is_null()) return dflt;
    auto v = auto_or_number<double>(o[key], path + "." + key, lo, hi);
    if (!v) throw_invalid_param(path + "." + key, "'" + path + "." + key + "' cannot be 'auto'.");
    return *v;
}

void check_keys(const ordered_json& o, const std::string& path,
                const std::vector<std::string>& allowed) {
    if (!o.is_object()) throw_invalid_param(path, "'" + path + "' must be an object.");
    for (auto it = o.begin(); it != o.end(); ++it) {
        bool known = false;
        for (const auto& a : allowed) known = known || a == it.key();
        if (!known)
            throw_invalid_param(path + "." + it.key(),
                                "Unknown parameter: '" + path + "." + it.key() + "'.",
                                "unknown_parameter");
    }
}

void parse_hyperparameters(const ordered_json& h, const std::string& path, JobSpec& s) {
    check_keys(h, path, {"n_epochs", "batch_size", "learning_rate_multiplier"});
    if (h.contains("n_epochs"))
        s.n_epochs = auto_or_number<int64_t>(h["n_epochs"], path + ".n_epochs", 1, 50);
    if (h.contains("batch_size"))
        s.batch_size = auto_or_number<int64_t>(h["batch_size"], path + ".batch_size", 1, 256);
    if (h.contains("learning_rate_multiplier")) {
        s.learning_rate_multiplier = auto_or_number<double>(
            h["learning_rate_multiplier"], path + ".learning_rate_multiplier", 1e-6, 100.0);
        if (s.learning_rate_multiplier && *s.learning_rate_multiplier <= 0)
            throw_invalid_param(path + ".learning_rate_multiplier",
                                "'learning_rate_multiplier' must be > 0.");
    }
}

ordered_json auto_json(const std::optional<int64_t>& v) {
    return v ? ordered_json(*v) : ordered_json("auto");
}

}  // namespace

double JobSpec::base_learning_rate() const { return method == "full" ? 2e-5 : 2e-4; }

double JobSpec::effective_learning_rate() const {
    if (learning_rate) return *learning_rate;
    return base_learning_rate() * learning_rate_multiplier.value_or(1.0);
}

JobSpec parse_job_spec(const ordered_json& body) {
    JobSpec s;
    bool have_method_hp = false;
    if (body.contains("method") && !body["method"].is_null()) {
        const auto& m = body["method"];
        check_keys(m, "method", {"type", "supervised"});
        std::string type = m.contains("type") && m["type"].is_string() ? m["type"].get<std::string>() : "";
        if (type != "supervised")
            throw_invalid_param("method.type",
                                "Invalid value for 'method.type': only 'supervised' is supported"
                                " (dpo and reinforcement are not).");
        if (m.contains("supervised") && !m["supervised"].is_null()) {
            check_keys(m["supervised"], "method.supervised", {"hyperparameters"});
            if (m["supervised"].contains("hyperparameters")) {
                parse_hyperparameters(m["supervised"]["hyperparameters"],
                                      "method.supervised.hyperparameters", s);
                have_method_hp = true;
            }
        }
    }
    if (body.contains("hyperparameters") && !body["hyperparameters"].is_null()) {
        if (have_method_hp)
            throw_invalid_param("hyperparameters",
                                "Give hyperparameters either in 'method' or at the top level "
                                "(deprecated), not both.");
        parse_hyperparameters(body["hyperparameters"], "hyperparameters", s);
    }
    if (body.contains("llmtune") && !body["llmtune"].is_null()) {
        const auto& x = body["llmtune"];
        const std::string p = "llmtune";
        check_keys(x, p,
                   {"method", "lora", "max_seq_len", "packing", "eval_steps", "save_steps",
                    "max_steps", "learning_rate", "lr_scheduler_type", "warmup_steps", "backend",
                    "ranks", "dtype", "gradient_checkpointing", "gradient_accumulation_steps"});
        s.ranks = get_int(x, "ranks", p, 1, 64, s.ranks);
        if (x.contains("backend") && !x["backend"].is_null()) {
            const auto& b = x["backend"];
            const std::string type = b.is_object() ? b.value("type", "") : "";
            if (type == "sagemaker")
                s.backend = parse_sagemaker_settings(b).to_json();
            else if (type != "local")
                throw_invalid_param("llmtune.backend.type",
                                    "Invalid value for 'llmtune.backend.type': expected 'local' or "
                                    "'sagemaker'.");
        }
        if (x.contains("method")) {
            if (!x["method"].is_string() ||
                (x["method"] != "lora" && x["method"] != "full"))
                throw_invalid_param("llmtune.method",
                                    "Invalid value for 'llmtune.method': expected 'lora' or 'full'.");
            s.method = x["method"].get<std::string>();
        }
        if (x.contains("lora") && !x["lora"].is_null()) {
            const auto& l = x["lora"];
            check_keys(l, "llmtune.lora", {"r", "alpha", "dropout", "target_modules"});
            s.lora_r = get_int(l, "r", "llmtune.lora", 1, 1024, s.lora_r);
            s.lora_alpha = get_num(l, "alpha", "llmtune.lora", 1e-6, 1e6, s.lora_alpha);
            s.lora_dropout = get_num(l, "dropout", "llmtune.lora", 0.0, 0.999, s.lora_dropout);
            if (l.contains("target_modules")) {
                const auto& t = l["target_modules"];
                if (!t.is_array() || t.empty())
                    throw_invalid_param("llmtune.lora.target_modules",
                                        "'llmtune.lora.target_modules' must be a non-empty list "
                                        "of module names.");
                s.target_modules.clear();
                for (const auto& m : t) {
                    if (!m.is_string())
                        throw_invalid_param("llmtune.lora.target_modules",
                                            "'llmtune.lora.target_modules' must hold strings.");
                    s.target_modules.push_back(m.get<std::string>());
                }
            }
        }
        s.max_seq_len = get_int(x, "max_seq_len", p, 2, 1 << 20, s.max_seq_len);
        if (x.contains("dtype") && !x["dtype"].is_null()) {
            if (!x["dtype"].is_string() || (x["dtype"] != "f32" && x["dtype"] != "bf16"))
                throw_invalid_param("llmtune.dtype",
                                    "Invalid value for 'llmtune.dtype': expected 'f32' or 'bf16'.");
            s.dtype = x["dtype"].get<std::string>();
        }
        if (x.contains("gradient_checkpointing") && !x["gradient_checkpointing"].is_null()) {
            if (!x["gradient_checkpointing"].is_boolean())
                throw_invalid_param("llmtune.gradient_checkpointing",
                                    "'llmtune.gradient_checkpointing' must be a boolean.");
            s.gradient_checkpointing = x["gradient_checkpointing"].get<bool>();
        }
        s.gradient_accumulation_steps = get_int(x, "gradient_accumulation_steps", p, 1, 1024,
                                                s.gradient_accumulation_steps);
        if (x.contains("packing")) {
            if (!x["packing"].is_boolean())
                throw_invalid_param("llmtune.packing", "'llmtune.packing' must be a boolean.");
            s.packing = x["packing"].get<bool>();
        }
        s.eval_steps = get_int(x, "eval_steps", p, 0, INT64_MAX / 2, s.eval_steps);
        s.save_steps = get_int(x, "save_steps", p, 0, INT64_MAX / 2, s.save_steps);
        s.max_steps = get_int(x, "max_steps", p, 0, INT64_MAX / 2, s.max_steps);
        s.warmup_steps = get_int(x, "warmup_steps", p, 0, INT64_MAX / 2, s.warmup_steps);
        if (x.contains("learning_rate") && !x["learning_rate"].is_null()) {
            double lr = get_num(x, "learning_rate", p, 0.0, 10.0, 0.0);
            if (lr <= 0)
                throw_invalid_param("llmtune.learning_rate", "'llmtune.learning_rate' must be > 0.");
            s.learning_rate = lr;
        }
        if (x.contains("lr_scheduler_type")) {
            const auto& t = x["lr_scheduler_type"];
            if (!t.is_string() || (t != "constant" && t != "linear" && t != "cosine"))
                throw_invalid_param("llmtune.lr_scheduler_type",
                                    "Invalid value for 'llmtune.lr_scheduler_type': expected "
                                    "'constant', 'linear' or 'cosine'.");
            s.lr_scheduler_type = t.get<std::string>();
        }
    }
    if (s.dtype == "bf16" && s.method == "full")
        throw_invalid_param("llmtune.dtype",
                            "'llmtune.dtype' bf16 is for the frozen base under LoRA; full "
                            "fine-tuning trains in f32.");
    if (s.ranks > 1 && s.batch_size && *s.batch_size % s.ranks != 0)
        throw_invalid_param("llmtune.ranks",
                            "'batch_size' (" + std::to_string(*s.batch_size) +
                                ") must be a multiple of 'llmtune.ranks' (" +
                                std::to_string(s.ranks) + "): each rank trains an equal share.");
    if (s.ranks > 1 && !s.backend.is_null())
        throw_invalid_param("llmtune.ranks",
                            "'llmtune.ranks' applies to local jobs, not to 'llmtune.backend'.");
    return s;
}

void resolve_auto(JobSpec& s, int64_t n) {
    LLMTUNE_ASSERT(n > 0, "a processed training file has records");
    s.training_examples = n;
    if (!s.n_epochs) {
        int64_t e = 3;
        if (n * 3 < 100) e = std::min<int64_t>(25, (100 + n - 1) / n);
        if (n * 3 > 25000) e = std::max<int64_t>(1, 25000 / n);
        s.n_epochs = e;
    }
    if (!s.batch_size) {
        int64_t b = 1;
        while (b * 2 <= n / 32 && b * 2 <= 16) b *= 2;
        if (s.ranks > 1) b = (b + s.ranks - 1) / s.ranks * s.ranks;  // an equal share each
        s.batch_size = b;
    }
    if (!s.learning_rate_multiplier) s.learning_rate_multiplier = 1.0;
}

ordered_json JobSpec::method_json() const {
    ordered_json hp;
    hp["n_epochs"] = auto_json(n_epochs);
    hp["batch_size"] = auto_json(batch_size);
    hp["learning_rate_multiplier"] =
        learning_rate_multiplier ? ordered_json(*learning_rate_multiplier) : ordered_json("auto");
    return {{"type", "supervised"}, {"supervised", {{"hyperparameters", hp}}}};
}

ordered_json JobSpec::to_json() const {
    ordered_json j;
    j["n_epochs"] = n_epochs ? ordered_json(*n_epochs) : ordered_json(nullptr);
    j["batch_size"] = batch_size ? ordered_json(*batch_size) : ordered_json(nullptr);
    j["learning_rate_multiplier"] =
        learning_rate_multiplier ? ordered_json(*learning_rate_multiplier) : ordered_json(nullptr);
    j["method"] = method;
    j["lora"] = {{"r", lora_r},
                 {"alpha", lora_alpha},
                 {"dropout", lora_dropout},
                 {"target_modules", target_modules}};
    j["max_seq_len"] = max_seq_len;
    j["packing"] = packing;
    j["eval_steps"] = eval_steps;
    j["save_steps"] = save_steps;
    j["max_steps"] = max_steps;
    j["learning_rate"] = learning_rate ? ordered_json(*learning_rate) : ordered_json(nullptr);
    j["lr_scheduler_type"] = lr_scheduler_type;
    j["warmup_steps"] = warmup_steps;
    j["training_examples"] = training_examples;
    j["dtype"] = dtype;
    j["gradient_checkpointing"] = gradient_checkpointing;
    j["gradient_accumulation_steps"] = gradient_accumulation_steps;
    if (!backend.is_null()) j["backend"] = backend;
    if (ranks != 1) j["ranks"] = ranks;
    return j;
}

JobSpec JobSpec::from_json(const ordered_json& j) {
    JobSpec s;
    if (!j["n_epochs"].is_null()) s.n_epochs = j["n_epochs"].get<int64_t>();
    if (!j["batch_size"].is_null()) s.batch_size = j["batch_size"].get<int64_t>();
    if (!j["learning_rate_multiplier"].is_null())
        s.learning_rate_multiplier = j["learning_rate_multiplier"].get<double>();
    s.method = j["method"].get<std::string>();
    s.lora_r = j["lora"]["r"].get<int64_t>();
    s.lora_alpha = j["lora"]["alpha"].get<double>();
    s.lora_dropout = j["lora"]["dropout"].get<double>();
    s.target_modules = j["lora"]["target_modules"].get<std::vector<std::string>>();
    s.max_seq_len = j["max_seq_len"].get<int64_t>();
    s.packing = j["packing"].get<bool>();
    s.eval_steps = j["eval_steps"].get<int64_t>();
    s.save_steps = j["save_steps"].get<int64_t>();
    s.max_steps = j["max_steps"].get<int64_t>();
    if (!j["learning_rate"].is_null()) s.learning_rate = j["learning_rate"].get<double>();
    s.lr_scheduler_type = j["lr_scheduler_type"].get<std::string>();
    s.warmup_steps = j["warmup_steps"].get<int64_t>();
    s.training_examples = j["training_examples"].get<int64_t>();
    // Specs stored before these settings existed train as they did then.
    if (j.contains("dtype")) s.dtype = j["dtype"].get<std::string>();
    if (j.contains("gradient_checkpointing"))
        s.gradient_checkpointing = j["gradient_checkpointing"].get<bool>();
    if (j.contains("gradient_accumulation_steps"))
        s.gradient_accumulation_steps = j["gradient_accumulation_steps"].get<int64_t>();
    if (j.contains("backend")) s.backend = j["backend"];
    if (j.contains("ranks")) s.ranks = j["ranks"].get<int64_t>();
    return s;
}

ordered_json make_train_config(const JobSpec& s, const std::string& model_dir,
                               const std::string& train_file, const std::string& valid_file,
                               const std::string& output_dir, int64_t seed) {
    LLMTUNE_ASSERT(s.resolved(), "auto hyperparameters are resolved before a job is queued");
    ordered_json c;
    c["model"] = {{"path", model_dir}, {"dtype", s.dtype}};
    if (s.method == "lora")
        c["lora"] = {{"r", s.lora_r},
                     {"alpha", s.lora_alpha},
                     {"dropout", s.lora_dropout},
                     {"target_modules", s.target_modules}};
    ordered_json data = {{"train", ordered_json::array({train_file})},
                         {"max_seq_len", s.max_seq_len},
                         {"packing", s.packing}};
    if (!valid_file.empty()) data["validation"] = valid_file;
    c["data"] = data;
    ordered_json t = {{"method", s.method},
                      {"epochs", *s.n_epochs},
                      {"batch_size", *s.batch_size},
                      {"learning_rate", s.effective_learning_rate()},
                      {"lr_scheduler_type", s.lr_scheduler_type},
                      {"warmup_steps", s.warmup_steps},
                      {"gradient_accumulation_steps", s.gradient_accumulation_steps},
                      {"gradient_checkpointing", s.gradient_checkpointing},
                      {"seed", seed}};
    if (s.max_steps > 0) t["max_steps"] = s.max_steps;
    c["training"] = t;
    if (s.eval_steps > 0 && !valid_file.empty()) c["eval"] = {{"eval_steps", s.eval_steps}};
    int64_t save = s.save_steps;
    if (save == 0) {
        // About four checkpoints a run, so a crash or a pause loses little work.
        const int64_t per_step = *s.batch_size * s.gradient_accumulation_steps;
        const int64_t steps_per_epoch = (s.training_examples + per_step - 1) / per_step;
        int64_t total = s.max_steps > 0 ? s.max_steps : steps_per_epoch * *s.n_epochs;
        save = std::max<int64_t>(1, total / 4);
    }
    c["output"] = {{"dir", output_dir}, {"save_steps", save}};
    return c;
}

}  // namespace llmtune::service
