// llmtune launch: start the local ranks of a data-parallel training job (dist/launcher.h).
//
//   llmtune launch --nproc-per-node N [--nnodes M --node-rank R --master-addr A
//                  --master-port P] [--timeout S] [--grace S] -- train CONFIG [--resume ...]
//
// Signals: SIGINT and SIGTERM are forwarded to every rank (each checkpoints and exits 3; a
// second signal stops them at once).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "cli/cli_common.h"
#include "common/error.h"
#include "dist/launcher.h"

namespace llmtune::cli {

namespace {

std::atomic<int> g_signal{0};

extern "C" void on_launch_signal(int sig) {
    g_signal.store(sig);
}

}  // namespace

void register_launch(CLI::App& app) {
    struct Args {
        dist::LaunchOptions o;
        double timeout_s = 0;
        double grace_s = 10;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "launch",
        "Start the local ranks of a data-parallel training job (torchrun's variables); see "
        "docs/distributed.md.\nExample: llmtune launch --nproc-per-node 2 -- train cfg.yaml");
    cmd->add_option("--nproc-per-node", args->o.nproc_per_node, "ranks to start on this node")
        ->required();
    cmd->add_option("--nnodes", args->o.nnodes, "nodes in the job (default 1)");
    cmd->add_option("--node-rank", args->o.node_rank, "this node's index, 0-based (default 0)");
    cmd->add_option("--master-addr", args->o.master_addr,
                    "address of node 0, where rank 0 serves the rendezvous (default 127.0.0.1)");
    cmd->add_option("--master-port", args->o.master_port,
                    "TCP port of the rendezvous on node 0 (default 29500; 0 = any free port, "
                    "one node only)");
    cmd->add_option("--timeout", args->timeout_s,
                    "seconds any rank waits for the others (rendezvous, collectives, barriers); "
                    "sets LLMTUNE_DIST_TIMEOUT_S (default: its value, else 600)");
    cmd->add_option("--grace", args->grace_s,
                    "seconds the other ranks get to exit after one fails, before SIGKILL "
                    "(default 10)");
    cmd->add_option("command", args->o.args, "after --: train CONFIG [--resume ...]")
        ->required();
    cmd->callback([args] {
        if (args->timeout_s < 0 || !std::isfinite(args->timeout_s))
            throw_invalid("--timeout must be a positive number of seconds");
        if (args->grace_s < 0 || !std::isfinite(args->grace_s) || args->grace_s > 86400)
            throw_invalid("--grace must be in [0, 86400] seconds");
        if (args->timeout_s > 0)
            ::setenv("LLMTUNE_DIST_TIMEOUT_S", std::to_string(args->timeout_s).c_str(), 1);
        args->o.grace = std::chrono::milliseconds(static_cast<int64_t>(args->grace_s * 1000));
        std::error_code ec;
        args->o.executable = std::filesystem::read_symlink("/proc/self/exe", ec).string();
        if (ec) throw_io("cannot find the llmtune binary (/proc/self/exe): " + ec.message());

        struct sigaction sa {};
        sa.sa_handler = on_launch_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, nullptr);
        sigaction(SIGTERM, &sa, nullptr);
        dist::run_launch(args->o, g_signal);
    });
}

}  // namespace llmtune::cli
