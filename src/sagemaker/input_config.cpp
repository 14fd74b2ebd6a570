#include "sagemaker/input_config.h"

#include <algorithm>
#include <set>

#include "common/error.h"

namespace llmtune::sagemaker {

std::map<std::string, ChannelConfig> parse_input_data_config(const json& value,
                                                             const std::string& source) {
    if (!value.is_object())
        throw_invalid(source + ": expected an object of channels, found " + json_type_name(value),
                      "SageMaker writes one entry per InputDataConfig channel here");
    std::map<std::string, ChannelConfig> out;
    for (const auto& [name, ch] : value.items()) {
        if (!ch.is_object())
            throw_invalid(source + ": channel '" + name + "': expected an object, found " +
                          json_type_name(ch));
        ChannelConfig c;
        if (auto it = ch.find("TrainingInputMode"); it != ch.end()) {
            if (!it->is_string())
                throw_invalid(source + ": channel '" + name +
                              "': TrainingInputMode must be a string");
            c.input_mode = it->get<std::string>();
        }
        if (auto it = ch.find("ContentType"); it != ch.end() && it->is_string())
            c.content_type = it->get<std::string>();
        if (c.input_mode == "Pipe")
            throw_invalid(source + ": channel '" + name + "' uses TrainingInputMode Pipe",
                          "llmtune reads the channel's files: use File (or FastFile) input mode");
        if (c.input_mode != "File" && c.input_mode != "FastFile")
            throw_invalid(source + ": channel '" + name + "': unknown TrainingInputMode '" +
                              c.input_mode + "'",
                          "use File (or FastFile) input mode");
        out[name] = c;
    }
    return out;
}

ResourceConfig parse_resource_config(const json& value, const std::string& source) {
    if (!value.is_object())
        throw_invalid(source + ": expected an object, found " + json_type_name(value));
    ResourceConfig r;
    auto cur = value.find("current_host");
    if (cur == value.end() || !cur->is_string() || cur->get<std::string>().empty())
        throw_invalid(source + ": current_host must be a non-empty string");
    r.current_host = cur->get<std::string>();
    auto hosts = value.find("hosts");
    if (hosts == value.end() || !hosts->is_array() || hosts->empty())
        throw_invalid(source + ": hosts must be a non-empty list of host names");
    std::set<std::string> seen;
    for (const auto& h : *hosts) {
        if (!h.is_string() || h.get<std::string>().empty())
            throw_invalid(source + ": hosts: every entry must be a non-empty string, found " +
                          h.dump());
        if (!seen.insert(h.get<std::string>()).second)
            throw_invalid(source + ": hosts: '" + h.get<std::string>() + "' is listed twice");
        r.hosts.push_back(h.get<std::string>());
    }
    if (!seen.count(r.current_host))
        throw_invalid(source + ": current_host '" + r.current_host + "' is not in hosts");
    if (auto it = value.find("network_interface_name"); it != value.end() && it->is_string())
        r.network_interface_name = it->get<std::string>();
    return r;
}

RendezvousEnv rendezvous_env(const ResourceConfig& resources, int master_port) {
    RendezvousEnv env;
    env.world_size = static_cast<int64_t>(resources.hosts.size());
    env.rank = std::find(resources.hosts.begin(), resources.hosts.end(), resources.current_host) -
               resources.hosts.begin();
    env.master_addr = resources.hosts.front();
    env.master_port = master_port;
    return env;
}

}  // namespace llmtune::sagemaker
