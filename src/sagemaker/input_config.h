// The two other files SageMaker writes under /opt/ml/input/config: inputdataconfig.json (the
// channels the job was given) and resourceconfig.json (this host and all hosts of the job),
// and the c10d rendezvous settings a multi-instance job derives from the latter. Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::sagemaker {

struct ChannelConfig {
    std::string input_mode = "File";  // TrainingInputMode: File | FastFile | Pipe
    std::string content_type;         // ContentType when given
};

// inputdataconfig.json: {"<channel>": {"TrainingInputMode": ..., ...}, ...}. invalid_input
// (naming the channel) for a non-object or a Pipe-mode channel: llmtune reads files, and Pipe
// mode hands it a FIFO per epoch instead.
std::map<std::string, ChannelConfig> parse_input_data_config(const json& value,
                                                             const std::string& source);

struct ResourceConfig {
    std::string current_host;        // e.g. "algo-1"
    std::vector<std::string> hosts;  // every host of the job, in SageMaker's order
    std::string network_interface_name;
};

// resourceconfig.json; invalid_input when current_host or hosts is missing, a host is named
// twice, or current_host is not among hosts.
ResourceConfig parse_resource_config(const json& value, const std::string& source);

// torch.distributed's env:// rendezvous for this host: one process per host, rank = the host's
// position in `hosts`, the first host is the master.
struct RendezvousEnv {
    int64_t rank = 0;
    int64_t world_size = 1;
    std::string master_addr;
    int master_port = 29500;  // torch.distributed's customary default port
};

RendezvousEnv rendezvous_env(const ResourceConfig& resources, int master_port = 29500);

}  // namespace llmtune::sagemaker
