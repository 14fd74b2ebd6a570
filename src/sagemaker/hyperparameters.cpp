#include "sagemaker/hyperparameters.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include "common/error.h"

namespace llmtune::sagemaker {

namespace {

// Settings the container owns: where the base model, the data and the output live.
const std::map<std::string, std::string> kContainerOwned = {
    {"model.path", "the base model comes from the 'model' channel"},
    {"data.train", "the training files come from the 'train' channel"},
    {"data.validation", "the validation file comes from the 'validation' channel"},
    {"output.dir", "outputs go to /opt/ml/model and checkpoints to /opt/ml/checkpoints"},
};

// Every leaf of the default config: dotted path -> default value (its type is the type the
// hyperparameter is read as).
std::vector<std::pair<std::string, ordered_json>> schema_leaves() {
    std::vector<std::pair<std::string, ordered_json>> out;
    const ordered_json defaults = train::TrainConfig{}.to_json();
    for (const auto& [section, value] : defaults.items()) {
        if (value.is_object()) {
            for (const auto& [key, leaf] : value.items())
                out.emplace_back(section + "." + key, leaf);
        } else {
            out.emplace_back(section, value);
        }
    }
    return out;
}

std::string last_part(const std::string& path) {
    size_t dot = path.rfind('.');
    return dot == std::string::npos ? path : path.substr(dot + 1);
}

size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1,
                               prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string quoted(const std::string& s) {
    std::string q = json(s).dump();
    return q.size() > 62 ? q.substr(0, 58) + "...\"" : q;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

// Reads `text` as the type of `like`; returns false (and sets `what`) when it is not one.
bool convert(const std::string& text, const ordered_json& like, ordered_json& out,
             std::string& what) {
    if (like.is_string()) {
        out = text;
        return true;
    }
    if (like.is_boolean()) {
        const std::string l = lower(text);  // Python's str(True) is "True"
        if (l == "true" || l == "false") {
            out = l == "true";
            return true;
        }
        what = "expected true or false";
        return false;
    }
    if (like.is_number_integer()) {
        const bool negative_ok = !like.is_number_unsigned();
        size_t i = 0;
        if (i < text.size() && (text[i] == '+' || (negative_ok && text[i] == '-'))) ++i;
        if (i == text.size() || text.find_first_not_of("0123456789", i) != std::string::npos) {
            what = negative_ok ? "expected an integer" : "expected a non-negative integer";
            return false;
        }
        errno = 0;
        if (like.is_number_unsigned()) {
            unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
            if (errno == ERANGE) {
                what = "integer out of range";
                return false;
            }
            out = static_cast<uint64_t>(v);
        } else {
            long long v = std::strtoll(text.c_str(), nullptr, 10);
            if (errno == ERANGE) {
                what = "integer out of range";
                return false;
            }
            out = static_cast<int64_t>(v);
        }
        return true;
    }
    if (like.is_number_float()) {
        const char* begin = text.c_str();
        char* end = nullptr;
        errno = 0;
        double v = std::strtod(begin, &end);
        if (text.empty() || end != begin + text.size() ||
            std::isspace(static_cast<unsigned char>(text[0]))) {
            what = "expected a number";
            return false;
        }
        // JSON has no NaN or infinity (they would turn into null and vanish), and no setting
        // takes one.
        if (!std::isfinite(v)) {
            what = "expected a finite number";
            return false;
        }
        out = v;
        return true;
    }
    if (like.is_array()) {
        // A JSON list ["q_proj", "v_proj"] or a comma-separated one: q_proj,v_proj.
        if (!text.empty() && text[0] == '[') {
            ordered_json parsed = ordered_json::parse(text, nullptr, false);
            if (parsed.is_discarded() || !parsed.is_array() ||
                !std::all_of(parsed.begin(), parsed.end(),
                             [](const ordered_json& v) { return v.is_string(); })) {
                what = "expected a JSON list of strings or a comma-separated list";
                return false;
            }
            out = parsed;
            return true;
        }
        out = ordered_json::array();
        size_t start = 0;
        while (start <= text.size()) {
            size_t comma = text.find(',', start);
            std::string item = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                             : comma - start);
            item.erase(0, item.find_first_not_of(' '));
            item.erase(item.find_last_not_of(' ') + 1);
            if (item.empty()) {
                what = "expected a comma-separated list without empty items";
                return false;
            }
            out.push_back(item);
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
        return true;
    }
    what = "unsupported setting type";
    return false;
}

}  // namespace

std::vector<std::string> hyperparameter_keys() {
    std::vector<std::string> out;
    for (const auto& [path, like] : schema_leaves())
        if (!kContainerOwned.count(path)) out.push_back(path);
    return out;
}

// A double as ECMAScript's Number::toString writes it (the shortest digits that read back to
// the same double; plain notation from 1e-6 to 1e21, else d.ddde+-x), so the hyperparameters
// llmtune sends are the strings a JavaScript or Python client would most likely send: "16",
// "0.0002", "1e-8".
std::string number_string(double v) {
    if (v == 0) return "0";
    if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : v < 0 ? "-Infinity" : "Infinity";
    char buf[40];
    for (int p = 0; p < 17; ++p) {
        std::snprintf(buf, sizeof buf, "%.*e", p, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    std::string e = buf;  // [-]d[.ddd]e[+-]xx
    std::string sign;
    if (e[0] == '-') sign = "-", e.erase(0, 1);
    const size_t epos = e.find('e');
    const int exp10 = std::atoi(e.c_str() + epos + 1);
    std::string digits = e.substr(0, epos);
    digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    const int k = static_cast<int>(digits.size()), n = exp10 + 1;
    if (k <= n && n <= 21) return sign + digits + std::string(static_cast<size_t>(n - k), '0');
    if (0 < n && n <= 21) return sign + digits.substr(0, static_cast<size_t>(n)) + "." + digits.substr(static_cast<size_t>(n));
    if (-6 < n && n <= 0) return sign + "0." + std::string(static_cast<size_t>(-n), '0') + digits;
    std::string out = sign + digits.substr(0, 1);
    if (k > 1) out += "." + digits.substr(1);
    return out + "e" + (n - 1 < 0 ? "-" : "+") + std::to_string(std::abs(n - 1));
}

std::string hyperparameter_string(const ordered_json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_number_float()) return number_string(value.get<double>());
    return value.dump();  // true/false, integers, lists as JSON
}

ParsedHyperparameters config_from_hyperparameters(const json& hyperparameters,
                                                  const std::string& source,
                                                  const ContainerPaths& paths) {
    ParsedHyperparameters result;
    std::vector<std::string> problems;
    if (!hyperparameters.is_object())
        throw_invalid(source + ": expected a JSON object of string values, found " +
                          json_type_name(hyperparameters),
                      "SageMaker writes CreateTrainingJob's HyperParameters map here");

    const auto leaves = schema_leaves();
    std::map<std::string, const ordered_json*> by_path;
    std::map<std::string, std::vector<std::string>> by_short;  // last part -> paths
    for (const auto& [path, like] : leaves) {
        by_path[path] = &like;
        by_short[last_part(path)].push_back(path);
    }

    ordered_json config = ordered_json::object();
    std::map<std::string, std::string> given_as;  // dotted path -> the key that set it
    for (const auto& [key, value] : hyperparameters.items()) {
        if (key.rfind("sagemaker_", 0) == 0) {
            result.ignored.push_back(key);
            continue;
        }
        std::string path;
        if (by_path.count(key)) {
            path = key;
        } else if (auto it = by_short.find(key); it != by_short.end() && it->second.size() == 1) {
            path = it->second.front();
        } else {
            std::string best;
            size_t best_d = 3;  // suggest only close names
            for (const auto& [p, like] : leaves) {
                if (kContainerOwned.count(p)) continue;
                for (const std::string& name : {p, last_part(p)}) {
                    size_t d = edit_distance(key, name);
                    if (d < best_d) best_d = d, best = name;
                }
            }
            problems.push_back(key + ": unknown hyperparameter" +
                               (best.empty() ? "" : " (did you mean '" + best + "'?)"));
            continue;
        }
        if (auto owned = kContainerOwned.find(path); owned != kContainerOwned.end()) {
            problems.push_back(key + ": cannot be set as a hyperparameter: " + owned->second);
            continue;
        }
        if (auto prev = given_as.find(path); prev != given_as.end()) {
            problems.push_back(key + ": sets " + path + ", which '" + prev->second +
                               "' already sets; give it once");
            continue;
        }
        given_as[path] = key;
        if (!value.is_string()) {
            problems.push_back(key + ": expected a string value (SageMaker passes every "
                                     "hyperparameter as a string), found " +
                               json_type_name(value) + " " + value.dump());
            continue;
        }
        ordered_json converted;
        std::string what;
        if (!convert(value.get<std::string>(), *by_path[path], converted, what)) {
            problems.push_back(key + (key == path ? "" : " (" + path + ")") + ": " + what +
                               ", got " + quoted(value.get<std::string>()));
            continue;
        }
        const size_t dot = path.find('.');
        if (dot == std::string::npos)
            config[path] = converted;
        else
            config[path.substr(0, dot)][path.substr(dot + 1)] = converted;
    }

    std::string known;
    for (const auto& k : hyperparameter_keys()) known += (known.empty() ? "" : ", ") + k;
    const std::string hint =
        "hyperparameters are training-config settings by dotted path or short name, each a "
        "string (see docs/sagemaker.md and docs/config.md); settable: " + known;
    if (!problems.empty()) {
        std::string msg = source + ": " + std::to_string(problems.size()) + " bad hyperparameter" +
                          (problems.size() == 1 ? "" : "s") + ":";
        for (const auto& p : problems) msg += "\n  " + p;
        throw_invalid(msg, hint);
    }

    config["model"]["path"] = paths.model_dir;
    config["data"]["train"] = paths.train_files;
    if (!paths.validation_file.empty()) config["data"]["validation"] = paths.validation_file;
    config["output"]["dir"] = paths.output_dir;

    // The trainer's own parser does the range checks; its messages name dotted paths, so a
    // setting given by its short name gets the hyperparameter's key added.
    try {
        result.config = train::parse_train_config(config.dump(), source, /*is_yaml=*/false, "/");
    } catch (const Error& e) {
        std::string msg = e.message();
        for (const auto& [path, key] : given_as) {
            if (key == path) continue;
            const std::string from = "\n  " + path + ":";
            for (size_t at = msg.find(from); at != std::string::npos;
                 at = msg.find(from, at + from.size()))
                msg.insert(at + 3 + path.size(), " (hyperparameter '" + key + "')");
        }
        throw Error(e.kind(), msg, hint);
    }
    return result;
}

}  // namespace llmtune::sagemaker
