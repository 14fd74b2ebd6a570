// The launch contract of a data-parallel rank: torchrun's environment variables, which
// Kubernetes' PyTorchJob, Slurm scripts and `llmtune launch` all set.
//
//   RANK              this process's rank, 0 <= RANK < WORLD_SIZE
//   WORLD_SIZE        the number of ranks in the job, >= 1
//   LOCAL_RANK        the rank within this node (picks the GPU), 0 <= LOCAL_RANK
//   LOCAL_WORLD_SIZE  optional: the ranks on this node (LOCAL_RANK must be below it)
//   MASTER_ADDR       host name or address of rank 0, which serves the rendezvous store
//   MASTER_PORT       its TCP port, 1..65535
//
// `llmtune train` runs as one rank when RANK or WORLD_SIZE is set; with neither it is one
// process, unchanged. Setting some of the variables but not all is an error that names the
// missing ones (half a launch contract is a mistake, never a single-process run).
//
// LLMTUNE_DIST_TIMEOUT_S (seconds, default 600) bounds every wait on the other ranks: the
// rendezvous, each collective and each barrier. Torch-free.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace llmtune::dist {

struct RankEnv {
    int rank = 0;
    int world_size = 1;
    int local_rank = 0;
    int local_world_size = 0;  // 0 = not given
    std::string master_addr;
    int master_port = 0;
};

// Reads the variables through `getenv` (nullptr = unset). nullopt when neither RANK nor
// WORLD_SIZE is set; invalid_input naming each missing or malformed variable otherwise.
std::optional<RankEnv> parse_rank_env(const std::function<const char*(const char*)>& getenv);

// parse_rank_env over the process environment.
std::optional<RankEnv> rank_env_from_process();

// The default timeout of every wait on the other ranks.
constexpr std::chrono::seconds kDefaultTimeout{600};

// LLMTUNE_DIST_TIMEOUT_S through `getenv`: a positive number of seconds (fractions allowed),
// or kDefaultTimeout when unset; invalid_input when malformed.
std::chrono::milliseconds parse_dist_timeout(const std::function<const char*(const char*)>& getenv);
std::chrono::milliseconds dist_timeout_from_process();

// The threads a rank gives torch: OMP_NUM_THREADS when set (a positive integer), else 1, so
// that N ranks on a node do not each start one thread per core. invalid_input when malformed.
int rank_threads(const std::function<const char*(const char*)>& getenv);

}  // namespace llmtune::dist
