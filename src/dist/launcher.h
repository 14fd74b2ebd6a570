// `llmtune launch`: starts the local ranks of a data-parallel job, as torchrun does, and
// watches them.
//
// Each local rank i is the same llmtune binary, run with the given arguments (`train CONFIG
// ...`) and torchrun's variables: RANK = node_rank * nproc_per_node + i, WORLD_SIZE = nnodes *
// nproc_per_node, LOCAL_RANK = i, LOCAL_WORLD_SIZE = nproc_per_node, GROUP_RANK = node_rank,
// MASTER_ADDR, MASTER_PORT, and OMP_NUM_THREADS=1 unless it is set (one thread per rank).
//
// Ordering, cancellation and crash behaviour:
//   - The ranks run in their own process group, so a terminal's Ctrl-C reaches the launcher
//     only; SIGINT and SIGTERM are forwarded to every live rank once per signal received
//     (the first makes each rank checkpoint and exit 3, a second stops them at once, as for
//     `llmtune train`).
//   - When a rank exits non-zero or is killed, the others get `grace` to exit by themselves
//     (they normally do within moments: their collectives fail when a peer's sockets close),
//     then are SIGKILLed. The launcher then fails naming the first rank that failed and its
//     exit status, and the status of every other rank.
//   - If the launcher itself dies, each rank gets SIGTERM (PR_SET_PDEATHSIG): no orphans keep
//     training.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

namespace llmtune::dist {

struct LaunchOptions {
    int nproc_per_node = 1;                    // ranks on this node, >= 1
    int nnodes = 1;                            // nodes in the job, >= 1
    int node_rank = 0;                         // this node, 0 <= node_rank < nnodes
    std::string master_addr = "127.0.0.1";     // where rank 0 (node 0) serves the store
    int master_port = 29500;                   // 1..65535; 0 = a free port (one node only)
    std::chrono::milliseconds grace{10000};    // after a rank fails, before SIGKILL
    std::string executable;                    // the llmtune binary
    std::vector<std::string> args;             // its arguments, e.g. {"train", "cfg.yaml"}
};

// invalid_input naming each bad option.
void validate_launch_options(const LaunchOptions& o);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released): for
// --master-port 0, the rank benchmark and the tests. io error when none can be had.
int free_loopback_port();

// The environment of local rank `local_rank`: `base` (KEY=VALUE entries) with torchrun's
// variables replaced or added.
std::vector<std::string> rank_environment(const LaunchOptions& o, int local_rank,
                                          const std::vector<std::string>& base);

// Starts the ranks and waits for all of them. Returns when every rank exited 0. Otherwise
// throws: cancelled when a forwarded signal stopped them, else an Error naming the first
// failed rank (kind invalid_input when it exited 1, internal when 4, io otherwise). `signals`
// is where the caller's signal handler stores each SIGINT/SIGTERM it received (0 = none);
// the launcher exchanges it back to 0 as it forwards.
void run_launch(const LaunchOptions& o, std::atomic<int>& signals);

}  // namespace llmtune::dist
