#include "train/hardware_profile.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "common/atomic_file.h"
#include "common/error.h"

namespace llmtune::train {

namespace fs = std::filesystem;

ordered_json HardwareProfile::to_json() const {
    ordered_json j;
    j["name"] = name;
    j["kind"] = kind;
    j["provider"] = provider;
    j["accelerator"] = accelerator;
    j["accelerator_count"] = accelerator_count;
    j["accelerator_memory_gb"] = accelerator_memory_bytes / 1e9;
    j["host_memory_gb"] = host_memory_bytes / 1e9;
    j["flops_f32"] = flops_f32;
    j["flops_bf16"] = flops_bf16;
    j["measured"] = measured;
    j["memory_bandwidth_gb_s"] = memory_bandwidth / 1e9;
    if (measured) {
        j["threads"] = threads;
        j["runtime_rss_gb"] = runtime_bytes / 1e9;
        j["measured_at"] = measured_at;
    }
    if (price_per_hour) {
        j["price_per_hour_usd"] = *price_per_hour;
        j["price_source"] = price_source;
        j["price_date"] = price_date;
    } else {
        j["price_per_hour_usd"] = nullptr;
    }
    if (!spec_source.empty()) j["spec_source"] = spec_source;
    if (!notes.empty()) j["notes"] = notes;
    return j;
}

HardwareProfile parse_hardware_profile(const json& j, const std::string& source) {
    std::vector<std::string> problems;
    auto num = [&](const char* key, bool positive) -> double {
        if (!j.contains(key) || !j[key].is_number()) {
            problems.push_back(std::string(key) + ": missing or not a number");
            return 0;
        }
        const double v = j[key].get<double>();
        if (positive && !(v > 0)) problems.push_back(std::string(key) + ": must be > 0");
        return v;
    };
    if (!j.is_object()) throw_invalid(source + ": a hardware profile must be a JSON object");
    HardwareProfile p;
    p.name = j.value("name", "local");
    p.kind = j.value("kind", "cpu");
    p.provider = j.value("provider", "local");
    p.accelerator = j.value("accelerator", "");
    p.accelerator_count = 1;
    p.accelerator_memory_bytes = num("accelerator_memory_gb", true) * 1e9;
    p.host_memory_bytes = p.accelerator_memory_bytes;
    p.flops_f32 = num("flops_f32", true);
    p.flops_bf16 = num("flops_bf16", true);
    p.memory_bandwidth = num("memory_bandwidth_gb_s", true) * 1e9;
    p.threads = static_cast<int>(num("threads", true));
    p.runtime_bytes = num("runtime_rss_gb", true) * 1e9;
    p.measured = true;
    p.measured_at = j.value("measured_at", "");
    if (!problems.empty()) {
        std::string msg = source + ": bad hardware profile:";
        for (const auto& pr : problems)
            msg += "\n  " + pr;
        throw_invalid(msg, "measure it again with `llmtune bench device`");
    }
    return p;
}

std::string resolve_data_dir(const std::string& flag) {
    if (!flag.empty()) return flag;
    const char* env = std::getenv("LLMTUNE_DATA_DIR");
    if (env && *env) return env;
    return "./llmtune-data";
}

std::string local_profile_path(const std::string& data_dir) {
    return data_dir + "/hardware/local.json";
}

HardwareProfile load_local_profile(const std::string& data_dir) {
    const std::string path = local_profile_path(data_dir);
    if (!fs::exists(path))
        throw Error(ErrorKind::not_found,
                    "no measured profile of this machine: " + path + " does not exist",
                    "measure it once with `llmtune bench device --data-dir " + data_dir +
                        "`, or pick a catalog entry with --hardware NAME");
    return parse_hardware_profile(read_json_file(path), path);
}

void save_local_profile(const std::string& data_dir, const HardwareProfile& p) {
    make_dirs(data_dir + "/hardware");
    write_file_atomic(local_profile_path(data_dir), p.to_json().dump(2) + "\n");
}

std::vector<HardwareProfile> parse_hardware_catalog(const std::string& text,
                                                    const std::string& source) {
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw_invalid(source + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg,
                      "fix the catalog's syntax");
    }
    if (!root.IsMap() || !root["instances"] || !root["instances"].IsSequence())
        throw_invalid(source + ": the catalog must be a map with an `instances:` list");
    std::vector<HardwareProfile> out;
    std::vector<std::string> problems;
    std::set<std::string> names;
    int index = 0;
    for (const auto& node : root["instances"]) {
        const std::string where = "instances[" + std::to_string(index++) + "]";
        if (!node.IsMap()) {
            problems.push_back(where + ": must be a map");
            continue;
        }
        HardwareProfile p;
        p.measured = false;
        static const std::set<std::string> known = {
            "name", "provider", "kind", "accelerator", "accelerator_count",
            "accelerator_memory_gb", "host_memory_gb", "peak_bf16_tflops", "peak_f32_tflops",
            "memory_bandwidth_gb_s", "spec_source", "price_per_hour_usd", "price_source",
            "price_date", "notes"};
        for (const auto& kv : node) {
            const std::string key = kv.first.as<std::string>();
            if (!known.count(key)) problems.push_back(where + "." + key + ": unknown key");
        }
        auto str = [&](const char* key, bool required) -> std::string {
            if (!node[key]) {
                if (required) problems.push_back(where + "." + key + ": missing");
                return "";
            }
            if (!node[key].IsScalar()) {
                problems.push_back(where + "." + key + ": must be a string");
                return "";
            }
            return node[key].as<std::string>();
        };
        auto num = [&](const char* key, bool required) -> std::optional<double> {
            if (!node[key]) {
                if (required) problems.push_back(where + "." + key + ": missing");
                return std::nullopt;
            }
            try {
                const double v = node[key].as<double>();
                if (!(v > 0)) {
                    problems.push_back(where + "." + key + ": must be > 0");
                    return std::nullopt;
                }
                return v;
            } catch (const YAML::Exception&) {
                problems.push_back(where + "." + key + ": must be a number, got '" +
                                   (node[key].IsScalar() ? node[key].as<std::string>() : "?") + "'");
                return std::nullopt;
            }
        };
        p.name = str("name", true);
        p.provider = str("provider", true);
        p.kind = str("kind", false);
        if (p.kind.empty()) p.kind = "gpu";
        if (p.kind != "gpu" && p.kind != "cpu")
            problems.push_back(where + ".kind: must be gpu or cpu, got '" + p.kind + "'");
        p.accelerator = str("accelerator", true);
        p.accelerator_count = static_cast<int64_t>(num("accelerator_count", true).value_or(1));
        p.accelerator_memory_bytes = num("accelerator_memory_gb", true).value_or(0) * 1e9;
        p.host_memory_bytes = num("host_memory_gb", false).value_or(0) * 1e9;
        // Optional: without it the estimator reports memory and cost basis but no time.
        p.flops_bf16 = num("peak_bf16_tflops", false).value_or(0) * 1e12;
        p.spec_source = str("spec_source", false);
        p.flops_f32 = num("peak_f32_tflops", false).value_or(0) * 1e12;
        p.memory_bandwidth = num("memory_bandwidth_gb_s", false).value_or(0) * 1e9;
        p.notes = str("notes", false);
        if (auto price = num("price_per_hour_usd", false)) {
            p.price_per_hour = *price;
            p.price_source = str("price_source", false);
            p.price_date = str("price_date", false);
            if (p.price_source.empty() || p.price_date.empty())
                problems.push_back(where + ": a price needs price_source (URL) and price_date");
            else if (p.price_date.size() != 10 || p.price_date[4] != '-' || p.price_date[7] != '-')
                problems.push_back(where + ".price_date: must be YYYY-MM-DD, got '" +
                                   p.price_date + "'");
        }
        if (!p.name.empty() && !names.insert(p.name).second)
            problems.push_back(where + ".name: duplicate '" + p.name + "'");
        out.push_back(p);
    }
    if (!problems.empty()) {
        std::string msg = source + ": " + std::to_string(problems.size()) + " problem" +
                          (problems.size() > 1 ? "s" : "") + " in the hardware catalog:";
        for (const auto& pr : problems)
            msg += "\n  " + pr;
        throw_invalid(msg, "see data/hardware_catalog.yaml for the format");
    }
    return out;
}

std::vector<HardwareProfile> load_hardware_catalog(const std::string& path) {
    if (path.empty()) return parse_hardware_catalog(builtin_hardware_catalog_yaml(), "built-in catalog");
    return parse_hardware_catalog(read_text_file(path), path);
}

HardwareProfile find_hardware(const std::string& name, const std::vector<HardwareProfile>& catalog,
                              const std::string& data_dir) {
    if (name == "local") return load_local_profile(data_dir);
    const HardwareProfile* match = nullptr;
    int short_matches = 0;
    for (const auto& p : catalog) {
        if (p.name == name) return p;
        const auto slash = p.name.find('/');
        if (slash != std::string::npos && p.name.substr(slash + 1) == name) {
            match = &p;
            ++short_matches;
        }
    }
    if (short_matches == 1) return *match;
    std::string names = "local";
    for (const auto& p : catalog)
        names += ", " + p.name;
    throw Error(ErrorKind::not_found,
                short_matches > 1 ? "hardware name '" + name + "' is ambiguous"
                                  : "unknown hardware '" + name + "'",
                "choose one of: " + names);
}

}  // namespace llmtune::train
