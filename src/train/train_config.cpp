#include "train/train_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "common/error.h"

namespace fs = std::filesystem;

namespace llmtune::train {

namespace {

// ---- YAML -> JSON -------------------------------------------------------------------------
// YAML is read into the same JSON value a .json config gives, so one reader checks both.
// Plain scalars are resolved with YAML 1.2's core schema (null, true/false, integers,
// floats); quoted scalars stay strings. The line of every key is kept for error messages.

using LineMap = std::map<std::string, int>;  // JSON path -> 1-based line in the file

json yaml_scalar(const YAML::Node& node) {
    const std::string& s = node.Scalar();
    if (node.Tag() == "!") return s;  // quoted: always a string
    static const std::regex int_re("[-+]?[0-9]+");
    static const std::regex float_re("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    if (std::regex_match(s, int_re)) {
        try {
            return static_cast<int64_t>(std::stoll(s));
        } catch (const std::out_of_range&) {
            return s;  // reported as "expected an integer" with the text
        }
    }
    if (std::regex_match(s, float_re)) return std::stod(s);
    if (s == ".inf" || s == "+.inf" || s == ".Inf") return std::numeric_limits<double>::infinity();
    if (s == "-.inf" || s == "-.Inf") return -std::numeric_limits<double>::infinity();
    if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::nan("");
    return s;
}

json yaml_to_json(const YAML::Node& node, const std::string& path, LineMap& lines,
                  std::vector<std::string>& problems) {
    if (!path.empty()) lines.emplace(path, node.Mark().line + 1);
    switch (node.Type()) {
        case YAML::NodeType::Undefined:
        case YAML::NodeType::Null:
            return nullptr;
        case YAML::NodeType::Scalar:
            return yaml_scalar(node);
        case YAML::NodeType::Sequence: {
            json arr = json::array();
            size_t i = 0;
            for (const auto& item : node)
                arr.push_back(
                    yaml_to_json(item, path + "[" + std::to_string(i++) + "]", lines, problems));
            return arr;
        }
        case YAML::NodeType::Map: {
            json obj = json::object();
            for (const auto& kv : node) {
                if (!kv.first.IsScalar()) {
                    problems.push_back("line " + std::to_string(kv.first.Mark().line + 1) +
                                       ": a key must be a plain name");
                    continue;
                }
                const std::string key = kv.first.Scalar();
                const std::string child = path.empty() ? key : path + "." + key;
                if (obj.contains(key)) {
                    problems.push_back(child + " (line " +
                                       std::to_string(kv.first.Mark().line + 1) +
                                       "): duplicate key");
                    continue;
                }
                obj[key] = yaml_to_json(kv.second, child, lines, problems);
            }
            return obj;
        }
    }
    return nullptr;
}

// ---- Reading the JSON value into the structs ----------------------------------------------

size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min(
                {prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

template <class Json>
std::string short_json(const Json& v) {
    std::string s = v.dump();
    return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

class Reader {
  public:
    Reader(const LineMap& lines, std::vector<std::string>& problems)
        : lines_(lines), problems_(problems) {}

    void problem(const std::string& path, const std::string& what) {
        auto it = lines_.find(path);
        std::string where = path;
        if (it != lines_.end()) where += " (line " + std::to_string(it->second) + ")";
        problems_.push_back(where + ": " + what);
    }

    // Checks `value` is an object whose keys are all in `known`; false when not an object.
    bool object(const json& value, const std::string& path, const std::vector<std::string>& known) {
        if (!value.is_object()) {
            problem(path.empty() ? "(top level)" : path,
                    std::string("expected a mapping of settings, found ") + json_type_name(value));
            return false;
        }
        for (const auto& [key, v] : value.items()) {
            if (std::find(known.begin(), known.end(), key) != known.end()) continue;
            std::string best;
            size_t best_d = 3;  // suggest only close names
            for (const auto& k : known) {
                size_t d = edit_distance(key, k);
                if (d < best_d) best_d = d, best = k;
            }
            std::string names;
            for (const auto& k : known)
                names += (names.empty() ? "" : ", ") + k;
            problem(path.empty() ? key : path + "." + key,
                    "unknown key" + (best.empty() ? "" : " (did you mean '" + best + "'?)") +
                        "; known keys here: " + names);
        }
        return true;
    }

    const json* child(const json& obj, const std::string& key) {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return nullptr;
        return &*it;
    }

    void get(const json& obj, const std::string& path, const std::string& key, std::string& out) {
        if (const json* v = child(obj, key)) {
            if (v->is_string())
                out = v->get<std::string>();
            else
                problem(join(path, key), std::string("expected a string, found ") +
                                             json_type_name(*v) + " " + short_json(*v));
        }
    }
    void get(const json& obj, const std::string& path, const std::string& key, bool& out) {
        if (const json* v = child(obj, key)) {
            if (v->is_boolean())
                out = v->get<bool>();
            else
                problem(join(path, key), std::string("expected true or false, found ") +
                                             json_type_name(*v) + " " + short_json(*v));
        }
    }
    void get(const json& obj, const std::string& path, const std::string& key, int64_t& out) {
        if (const json* v = child(obj, key)) {
            if (v->is_number_integer())
                out = v->get<int64_t>();
            else if (v->is_number_float() && std::isfinite(v->get<double>()) &&
                     v->get<double>() == std::floor(v->get<double>()) &&
                     std::fabs(v->get<double>()) < 9e15)
                out = static_cast<int64_t>(v->get<double>());  // 1e3 or 100.0
            else
                problem(join(path, key), std::string("expected an integer, found ") +
                                             json_type_name(*v) + " " + short_json(*v));
        }
    }
    void get(const json& obj, const std::string& path, const std::string& key, int& out) {
        int64_t v = out;
        get(obj, path, key, v);
        if (v < INT32_MIN || v > INT32_MAX)
            problem(join(path, key), "out of range (got " + std::to_string(v) + ")");
        else
            out = static_cast<int>(v);
    }
    void get(const json& obj, const std::string& path, const std::string& key, uint64_t& out) {
        if (const json* v = child(obj, key)) {
            if (v->is_number_unsigned() || (v->is_number_integer() && v->get<int64_t>() >= 0))
                out = v->get<uint64_t>();
            else
                problem(join(path, key), std::string("expected a non-negative integer, found ") +
                                             json_type_name(*v) + " " + short_json(*v));
        }
    }
    void get(const json& obj, const std::string& path, const std::string& key, double& out) {
        if (const json* v = child(obj, key)) {
            if (v->is_number())
                out = v->get<double>();
            else
                problem(join(path, key), std::string("expected a number, found ") +
                                             json_type_name(*v) + " " + short_json(*v));
        }
    }
    // A string or a list of strings.
    void get(const json& obj, const std::string& path, const std::string& key,
             std::vector<std::string>& out) {
        const json* v = child(obj, key);
        if (!v) return;
        if (v->is_string()) {
            out = {v->get<std::string>()};
            return;
        }
        if (!v->is_array()) {
            problem(join(path, key), std::string("expected a string or a list of strings, found ") +
                                         json_type_name(*v));
            return;
        }
        std::vector<std::string> items;
        for (size_t i = 0; i < v->size(); ++i) {
            if ((*v)[i].is_string())
                items.push_back((*v)[i].get<std::string>());
            else
                problem(join(path, key) + "[" + std::to_string(i) + "]",
                        std::string("expected a string, found ") + json_type_name((*v)[i]));
        }
        out = items;
    }

    static std::string join(const std::string& path, const std::string& key) {
        return path.empty() ? key : path + "." + key;
    }

  private:
    const LineMap& lines_;
    std::vector<std::string>& problems_;
};

std::string resolve(const std::string& base_dir, const std::string& p) {
    if (p.empty() || fs::path(p).is_absolute() || base_dir.empty()) return p;
    return (fs::path(base_dir) / p).lexically_normal().string();
}

std::string fmt(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

// Range checks on the parsed struct, each problem with its key's path.
std::vector<std::string> range_problems(const TrainConfig& c) {
    std::vector<std::string> p;
    auto bad = [&](const std::string& key, const std::string& what) {
        p.push_back(key + ": " + what);
    };
    if (c.model.path.empty()) bad("model.path", "required: a Hugging Face model directory");
    if (c.model.dtype != "f32" && c.model.dtype != "bf16")
        bad("model.dtype", "must be f32 or bf16 (got '" + c.model.dtype + "')");
    static const std::regex device_re("cpu|cuda(:[0-9]+)?");
    if (!std::regex_match(c.model.device, device_re))
        bad("model.device", "must be cpu, cuda or cuda:N (got '" + c.model.device + "')");

    const std::string& m = c.training.method;
    if (m != "lora" && m != "full")
        bad("training.method", "must be lora or full (got '" + m + "')");
    if (m == "full" && c.model.dtype != "f32")
        bad("model.dtype", "full fine-tuning trains the base weights, which must be f32 (got '" +
                               c.model.dtype + "'); bf16 is for the frozen base under LoRA");

    if (c.lora.r < 1) bad("lora.r", "must be >= 1 (got " + std::to_string(c.lora.r) + ")");
    if (!(c.lora.alpha > 0) || !std::isfinite(c.lora.alpha))
        bad("lora.alpha", "must be > 0 (got " + fmt(c.lora.alpha) + ")");
    if (!(c.lora.dropout >= 0 && c.lora.dropout < 1))
        bad("lora.dropout", "must be in [0, 1) (got " + fmt(c.lora.dropout) + ")");
    static const std::set<std::string> targets = {
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "q",
        "k",      "v",      "o",      "gate",   "up",        "down",    "all-linear"};
    if (c.lora.target_modules.empty()) bad("lora.target_modules", "must name at least one module");
    for (size_t i = 0; i < c.lora.target_modules.size(); ++i)
        if (!targets.count(c.lora.target_modules[i]))
            bad("lora.target_modules[" + std::to_string(i) + "]",
                "unknown module '" + c.lora.target_modules[i] +
                    "'; use q, k, v, o, gate, up, down (or their *_proj names) or all-linear");

    if (c.data.train.empty()) bad("data.train", "required: one or more training files");
    for (size_t i = 0; i < c.data.train.size(); ++i)
        if (c.data.train[i].empty())
            bad("data.train[" + std::to_string(i) + "]", "must not be empty");
    if (!(c.data.validation_split >= 0 && c.data.validation_split < 1))
        bad("data.validation_split",
            "must be in [0, 1) (got " + fmt(c.data.validation_split) + ")");
    if (!c.data.validation.empty() && c.data.validation_split > 0)
        bad("data.validation_split",
            "give either data.validation or data.validation_split, not both");
    if (c.data.max_seq_len < 2 || c.data.max_seq_len > (1 << 20))
        bad("data.max_seq_len",
            "must be in [2, 1048576] (got " + std::to_string(c.data.max_seq_len) + ")");

    const auto& t = c.training;
    if (t.epochs < 1) bad("training.epochs", "must be >= 1 (got " + std::to_string(t.epochs) + ")");
    if (t.max_steps < 0)
        bad("training.max_steps", "must be >= 0 (got " + std::to_string(t.max_steps) + ")");
    if (t.batch_size < 1)
        bad("training.batch_size", "must be >= 1 (got " + std::to_string(t.batch_size) + ")");
    if (t.gradient_accumulation_steps < 1)
        bad("training.gradient_accumulation_steps",
            "must be >= 1 (got " + std::to_string(t.gradient_accumulation_steps) + ")");
    if (!(t.learning_rate > 0) || !std::isfinite(t.learning_rate))
        bad("training.learning_rate",
            "must be a finite number > 0 (got " + fmt(t.learning_rate) + ")");
    if (t.lr_scheduler_type != "constant" && t.lr_scheduler_type != "linear" &&
        t.lr_scheduler_type != "cosine")
        bad("training.lr_scheduler_type",
            "must be constant, linear or cosine (got '" + t.lr_scheduler_type + "')");
    if (t.warmup_steps < 0)
        bad("training.warmup_steps", "must be >= 0 (got " + std::to_string(t.warmup_steps) + ")");
    if (!(t.warmup_ratio >= 0 && t.warmup_ratio <= 1))
        bad("training.warmup_ratio", "must be in [0, 1] (got " + fmt(t.warmup_ratio) + ")");
    if (t.warmup_steps > 0 && t.warmup_ratio > 0)
        bad("training.warmup_ratio", "give either warmup_steps or warmup_ratio, not both");
    if (!(t.min_lr_ratio >= 0 && t.min_lr_ratio <= 1))
        bad("training.min_lr_ratio", "must be in [0, 1] (got " + fmt(t.min_lr_ratio) + ")");
    if (t.min_lr_ratio > 0 && t.lr_scheduler_type != "cosine")
        bad("training.min_lr_ratio", "applies only to lr_scheduler_type: cosine");
    if (!(t.weight_decay >= 0) || !std::isfinite(t.weight_decay))
        bad("training.weight_decay", "must be >= 0 (got " + fmt(t.weight_decay) + ")");
    if (!(t.adam_beta1 >= 0 && t.adam_beta1 < 1))
        bad("training.adam_beta1", "must be in [0, 1) (got " + fmt(t.adam_beta1) + ")");
    if (!(t.adam_beta2 >= 0 && t.adam_beta2 < 1))
        bad("training.adam_beta2", "must be in [0, 1) (got " + fmt(t.adam_beta2) + ")");
    if (!(t.adam_epsilon > 0) || !std::isfinite(t.adam_epsilon))
        bad("training.adam_epsilon", "must be > 0 (got " + fmt(t.adam_epsilon) + ")");
    if (!(t.max_grad_norm >= 0) || !std::isfinite(t.max_grad_norm))
        bad("training.max_grad_norm",
            "must be >= 0, 0 = no clipping (got " + fmt(t.max_grad_norm) + ")");

    const auto& e = c.eval;
    if (e.eval_steps < 0)
        bad("eval.eval_steps", "must be >= 0 (got " + std::to_string(e.eval_steps) + ")");
    if (e.early_stopping_patience < 0)
        bad("eval.early_stopping_patience",
            "must be >= 0 (got " + std::to_string(e.early_stopping_patience) + ")");
    if (!(e.early_stopping_min_delta >= 0) || !std::isfinite(e.early_stopping_min_delta))
        bad("eval.early_stopping_min_delta",
            "must be >= 0 (got " + fmt(e.early_stopping_min_delta) + ")");
    if (e.early_stopping_patience > 0 && c.data.validation.empty() && c.data.validation_split == 0)
        bad("eval.early_stopping_patience",
            "early stopping watches valid_loss: give data.validation or data.validation_split");

    if (c.output.dir.empty()) bad("output.dir", "required: where checkpoints and results go");
    if (c.output.save_steps < 0)
        bad("output.save_steps", "must be >= 0 (got " + std::to_string(c.output.save_steps) + ")");
    if (c.output.save_total_limit < 0)
        bad("output.save_total_limit",
            "must be >= 0 (got " + std::to_string(c.output.save_total_limit) + ")");
    if (c.threads < 0) bad("threads", "must be >= 0 (got " + std::to_string(c.threads) + ")");
    return p;
}

[[noreturn]] void throw_problems(const std::string& source, const std::vector<std::string>& p) {
    std::string msg = source + ": " + std::to_string(p.size()) + " problem" +
                      (p.size() == 1 ? "" : "s") + " in the training config:";
    for (const auto& s : p)
        msg += "\n  " + s;
    throw_invalid(msg, "see docs/config.md for every key, its type and range");
}

}  // namespace

TrainMethod TrainConfig::method() const {
    return training.method == "full" ? TrainMethod::full : TrainMethod::lora;
}

ordered_json TrainConfig::to_json() const {
    ordered_json j;
    j["model"] = {{"path", model.path}, {"dtype", model.dtype}, {"device", model.device}};
    j["lora"] = {{"r", lora.r},
                 {"alpha", lora.alpha},
                 {"dropout", lora.dropout},
                 {"use_rslora", lora.use_rslora},
                 {"target_modules", lora.target_modules}};
    j["data"] = {{"train", data.train},
                 {"validation", data.validation},
                 {"validation_split", data.validation_split},
                 {"max_seq_len", data.max_seq_len},
                 {"packing", data.packing},
                 {"train_on_inputs", data.train_on_inputs},
                 {"honour_weights", data.honour_weights}};
    const auto& t = training;
    j["training"] = {{"method", t.method},
                     {"epochs", t.epochs},
                     {"max_steps", t.max_steps},
                     {"batch_size", t.batch_size},
                     {"gradient_accumulation_steps", t.gradient_accumulation_steps},
                     {"learning_rate", t.learning_rate},
                     {"lr_scheduler_type", t.lr_scheduler_type},
                     {"warmup_steps", t.warmup_steps},
                     {"warmup_ratio", t.warmup_ratio},
                     {"min_lr_ratio", t.min_lr_ratio},
                     {"weight_decay", t.weight_decay},
                     {"adam_beta1", t.adam_beta1},
                     {"adam_beta2", t.adam_beta2},
                     {"adam_epsilon", t.adam_epsilon},
                     {"max_grad_norm", t.max_grad_norm},
                     {"seed", t.seed},
                     {"gradient_checkpointing", t.gradient_checkpointing}};
    j["eval"] = {{"eval_steps", eval.eval_steps},
                 {"early_stopping_patience", eval.early_stopping_patience},
                 {"early_stopping_min_delta", eval.early_stopping_min_delta}};
    j["output"] = {{"dir", output.dir},
                   {"save_steps", output.save_steps},
                   {"save_total_limit", output.save_total_limit}};
    j["threads"] = threads;
    return j;
}

ordered_json TrainConfig::resume_relevant_json() const {
    ordered_json j = to_json();
    // Where files live may change between runs; their contents are compared by hash instead
    // (the checkpoint records the model's and the datasets' hashes).
    j["model"].erase("path");
    j["model"].erase("device");
    j["data"].erase("train");
    j["data"].erase("validation");
    j.erase("eval");
    j.erase("output");
    j.erase("threads");
    if (method() == TrainMethod::full) j.erase("lora");  // unused
    return j;
}

void validate_train_config(const TrainConfig& config) {
    auto p = range_problems(config);
    if (!p.empty()) throw_problems("config", p);
}

TrainConfig parse_train_config(const std::string& text, const std::string& source, bool is_yaml,
                               const std::string& base_dir) {
    json root;
    LineMap lines;
    std::vector<std::string> problems;
    if (is_yaml) {
        YAML::Node node;
        try {
            node = YAML::Load(text);
        } catch (const YAML::Exception& e) {
            throw_invalid(source + ":" + std::to_string(e.mark.line + 1) + ":" +
                              std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg,
                          "fix the YAML syntax (indentation, colons, quotes)");
        }
        root = yaml_to_json(node, "", lines, problems);
        if (root.is_null()) root = json::object();  // an empty file: report the required keys
    } else {
        root = parse_json_text(text, source);
    }

    TrainConfig c;
    Reader r(lines, problems);
    if (r.object(root, "", {"model", "lora", "data", "training", "eval", "output", "threads"})) {
        if (const json* m = r.child(root, "model");
            m && r.object(*m, "model", {"path", "dtype", "device"})) {
            r.get(*m, "model", "path", c.model.path);
            r.get(*m, "model", "dtype", c.model.dtype);
            r.get(*m, "model", "device", c.model.device);
        }
        if (const json* l = r.child(root, "lora");
            l && r.object(*l, "lora", {"r", "alpha", "dropout", "use_rslora", "target_modules"})) {
            r.get(*l, "lora", "r", c.lora.r);
            r.get(*l, "lora", "alpha", c.lora.alpha);
            r.get(*l, "lora", "dropout", c.lora.dropout);
            r.get(*l, "lora", "use_rslora", c.lora.use_rslora);
            r.get(*l, "lora", "target_modules", c.lora.target_modules);
        }
        if (const json* d = r.child(root, "data");
            d && r.object(*d, "data",
                          {"train", "validation", "validation_split", "max_seq_len", "packing",
                           "train_on_inputs", "honour_weights"})) {
            r.get(*d, "data", "train", c.data.train);
            r.get(*d, "data", "validation", c.data.validation);
            r.get(*d, "data", "validation_split", c.data.validation_split);
            r.get(*d, "data", "max_seq_len", c.data.max_seq_len);
            r.get(*d, "data", "packing", c.data.packing);
            r.get(*d, "data", "train_on_inputs", c.data.train_on_inputs);
            r.get(*d, "data", "honour_weights", c.data.honour_weights);
        }
        if (const json* t = r.child(root, "training");
            t &&
            r.object(*t, "training",
                     {"method", "epochs", "max_steps", "batch_size", "gradient_accumulation_steps",
                      "learning_rate", "lr_scheduler_type", "warmup_steps", "warmup_ratio",
                      "min_lr_ratio", "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon",
                      "max_grad_norm", "seed", "gradient_checkpointing"})) {
            auto& s = c.training;
            const std::string p = "training";
            r.get(*t, p, "method", s.method);
            r.get(*t, p, "epochs", s.epochs);
            r.get(*t, p, "max_steps", s.max_steps);
            r.get(*t, p, "batch_size", s.batch_size);
            r.get(*t, p, "gradient_accumulation_steps", s.gradient_accumulation_steps);
            r.get(*t, p, "learning_rate", s.learning_rate);
            r.get(*t, p, "lr_scheduler_type", s.lr_scheduler_type);
            r.get(*t, p, "warmup_steps", s.warmup_steps);
            r.get(*t, p, "warmup_ratio", s.warmup_ratio);
            r.get(*t, p, "min_lr_ratio", s.min_lr_ratio);
            r.get(*t, p, "weight_decay", s.weight_decay);
            r.get(*t, p, "adam_beta1", s.adam_beta1);
            r.get(*t, p, "adam_beta2", s.adam_beta2);
            r.get(*t, p, "adam_epsilon", s.adam_epsilon);
            r.get(*t, p, "max_grad_norm", s.max_grad_norm);
            r.get(*t, p, "seed", s.seed);
            r.get(*t, p, "gradient_checkpointing", s.gradient_checkpointing);
        }
        if (const json* e = r.child(root, "eval");
            e && r.object(*e, "eval",
                          {"eval_steps", "early_stopping_patience", "early_stopping_min_delta"})) {
            r.get(*e, "eval", "eval_steps", c.eval.eval_steps);
            r.get(*e, "eval", "early_stopping_patience", c.eval.early_stopping_patience);
            r.get(*e, "eval", "early_stopping_min_delta", c.eval.early_stopping_min_delta);
        }
        if (const json* o = r.child(root, "output");
            o && r.object(*o, "output", {"dir", "save_steps", "save_total_limit"})) {
            r.get(*o, "output", "dir", c.output.dir);
            r.get(*o, "output", "save_steps", c.output.save_steps);
            r.get(*o, "output", "save_total_limit", c.output.save_total_limit);
        }
        r.get(root, "", "threads", c.threads);
    }

    // Range checks run on what parsed; a key with the wrong type keeps its default and is
    // already reported, so its range message would only repeat it.
    std::set<std::string> reported;
    for (const auto& p : problems)
        reported.insert(p.substr(0, p.find_first_of(" :[")));
    for (auto& p : range_problems(c))
        if (!reported.count(p.substr(0, p.find_first_of(" :["))))
            r.problem(p.substr(0, p.find(": ")), p.substr(p.find(": ") + 2));
    if (!problems.empty()) throw_problems(source, problems);

    c.model.path = resolve(base_dir, c.model.path);
    for (auto& f : c.data.train)
        f = resolve(base_dir, f);
    c.data.validation = resolve(base_dir, c.data.validation);
    c.output.dir = resolve(base_dir, c.output.dir);
    return c;
}

TrainConfig load_train_config(const std::string& path) {
    const std::string ext = fs::path(path).extension().string();
    bool yaml = ext == ".yaml" || ext == ".yml";
    if (!yaml && ext != ".json")
        throw_invalid("config file '" + path + "' must end in .yaml, .yml or .json",
                      "name the file after its format");
    const std::string text = read_text_file(path);
    std::string base = fs::path(path).parent_path().string();
    if (base.empty()) base = ".";
    return parse_train_config(text, path, yaml, fs::absolute(base).lexically_normal().string());
}

std::vector<std::string> json_differences(const ordered_json& before, const ordered_json& after,
                                          const std::string& prefix) {
    std::vector<std::string> out;
    if (before.is_object() && after.is_object()) {
        for (const auto& [k, v] : before.items()) {
            const std::string path = prefix.empty() ? k : prefix + "." + k;
            if (!after.contains(k))
                out.push_back(path + ": " + short_json(v) + " -> (absent)");
            else {
                auto sub = json_differences(v, after[k], path);
                out.insert(out.end(), sub.begin(), sub.end());
            }
        }
        for (const auto& [k, v] : after.items())
            if (!before.contains(k))
                out.push_back((prefix.empty() ? k : prefix + "." + k) + ": (absent) -> " +
                              short_json(v));
        return out;
    }
    if (before != after)
        out.push_back((prefix.empty() ? "(value)" : prefix) + ": " + short_json(before) + " -> " +
                      short_json(after));
    return out;
}

}  // namespace llmtune::train
