#include "dist/launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <thread>

#include "common/error.h"

extern char** environ;

namespace llmtune::dist {

namespace {

using Clock = std::chrono::steady_clock;

struct Rank {
    int rank = 0;
    pid_t pid = -1;
    bool running = false;
    int status = 0;  // waitpid status once exited
};

std::string status_text(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* name = sigabbrev_np(sig);
        return "was killed by signal " + std::to_string(sig) + " (" +
               (name ? std::string("SIG") + name : std::string(strsignal(sig))) + ")";
    }
    return "ended with wait status " + std::to_string(status);
}

bool failed(int status) {
    return !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}


}  // namespace

void validate_launch_options(const LaunchOptions& o) {
    std::vector<std::string> bad;
    if (o.nproc_per_node < 1 || o.nproc_per_node > 4096)
        bad.push_back("--nproc-per-node must be in 1..4096, got " +
                      std::to_string(o.nproc_per_node));
    if (o.nnodes < 1 || o.nnodes > 65536)
        bad.push_back("--nnodes must be in 1..65536, got " + std::to_string(o.nnodes));
    if (o.node_rank < 0 || o.node_rank >= o.nnodes)
        bad.push_back("--node-rank must be in 0.." + std::to_string(o.nnodes - 1) + ", got " +
                      std::to_string(o.node_rank));
    if (o.master_port < 0 || o.master_port > 65535 || (o.master_port == 0 && o.nnodes > 1))
        bad.push_back("--master-port must be in 1..65535 (0 = any free port, one node only), got " +
                      std::to_string(o.master_port));
    if (o.master_addr.empty()) bad.push_back("--master-addr must not be empty");
    if (o.grace.count() < 0) bad.push_back("--grace must be >= 0");
    if (o.args.empty() || (o.args[0] != "train" && o.args[0] != "worker"))
        bad.push_back("the command after -- must be `train CONFIG [--resume ...]` (or the "
                      "server's `worker --job-dir DIR`)" +
                      (o.args.empty() ? std::string(" (none given)")
                                      : ", got `" + o.args[0] + "`"));
    if (!bad.empty()) {
        std::string msg = bad.size() == 1 ? bad[0] : "invalid launch options:";
        if (bad.size() > 1)
            for (const auto& b : bad)
                msg += "\n  " + b;
        throw_invalid(msg,
                      "usage: llmtune launch --nproc-per-node N [--nnodes M --node-rank R "
                      "--master-addr A --master-port P] -- train CONFIG");
    }
}

std::vector<std::string> rank_environment(const LaunchOptions& o, int local_rank,
                                          const std::vector<std::string>& base) {
    const std::vector<std::pair<std::string, std::string>> set = {
        {"RANK", std::to_string(o.node_rank * o.nproc_per_node + local_rank)},
        {"WORLD_SIZE", std::to_string(o.nnodes * o.nproc_per_node)},
        {"LOCAL_RANK", std::to_string(local_rank)},
        {"LOCAL_WORLD_SIZE", std::to_string(o.nproc_per_node)},
        {"GROUP_RANK", std::to_string(o.node_rank)},
        {"MASTER_ADDR", o.master_addr},
        {"MASTER_PORT", std::to_string(o.master_port)},
    };
    std::vector<std::string> env;
    bool have_omp = false;
    for (const auto& kv : base) {
        const std::string key = kv.substr(0, kv.find('='));
        bool replaced = false;
        for (const auto& [k, v] : set)
            replaced = replaced || k == key;
        if (key == "OMP_NUM_THREADS") have_omp = true;
        if (!replaced) env.push_back(kv);
    }
    for (const auto& [k, v] : set)
        env.push_back(k + "=" + v);
    if (!have_omp) env.push_back("OMP_NUM_THREADS=1");
    return env;
}

void run_launch(const LaunchOptions& options, std::atomic<int>& signals) {
    validate_launch_options(options);
    LaunchOptions o = options;
    if (o.master_port == 0) o.master_port = free_loopback_port();
    std::vector<std::string> base;
    for (char** e = environ; *e; ++e)
        base.emplace_back(*e);
    const int world = o.nnodes * o.nproc_per_node;
    const int first_rank = o.node_rank * o.nproc_per_node;
    std::fprintf(stderr, "llmtune launch: starting ranks %d..%d of %d (master %s:%d)\n",
                 first_rank, first_rank + o.nproc_per_node - 1, world, o.master_addr.c_str(),
                 o.master_port);

    std::vector<Rank> ranks(static_cast<size_t>(o.nproc_per_node));
    const pid_t parent = ::getpid();
    for (int i = 0; i < o.nproc_per_node; ++i) {
        // Everything the child needs is built before fork: after it only exec-safe calls.
        std::vector<std::string> env = rank_environment(o, i, base);
        std::vector<char*> envp, argv;
        for (auto& s : env)
            envp.push_back(s.data());
        envp.push_back(nullptr);
        std::string exe = o.executable;
        argv.push_back(exe.data());
        std::vector<std::string> args = o.args;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        const pid_t pid = ::fork();
        if (pid < 0) {
            const int err = errno;
            for (auto& r : ranks)
                if (r.running) ::kill(r.pid, SIGKILL);
            throw_io("cannot start rank " + std::to_string(first_rank + i) + ": fork: " +
                     errno_text(err));
        }
        if (pid == 0) {
            ::setpgid(0, 0);
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (::getppid() != parent) ::_exit(127);  // the launcher died before prctl
            ::execve(argv[0], argv.data(), envp.data());
            const char msg[] = "llmtune launch: cannot exec the llmtune binary\n";
            ssize_t ignored = ::write(2, msg, sizeof msg - 1);
            (void)ignored;
            ::_exit(127);
        }
        ranks[static_cast<size_t>(i)] = {first_rank + i, pid, true, 0};
    }

    int live = o.nproc_per_node;
    const Rank* first_failure = nullptr;
    Clock::time_point kill_at{};
    bool killed = false, forwarded = false;
    while (live > 0) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (auto& r : ranks) {
                if (r.pid != pid || !r.running) continue;
                r.running = false;
                r.status = status;
                --live;
                if (failed(status) && !first_failure) {
                    first_failure = &r;
                    kill_at = Clock::now() + o.grace;
                    if (live > 0 && !forwarded)
                        std::fprintf(stderr,
                                     "llmtune launch: rank %d %s; stopping the other ranks "
                                     "(SIGKILL after %.3g s)\n",
                                     r.rank, status_text(status).c_str(),
                                     static_cast<double>(o.grace.count()) / 1000.0);
                }
            }
            continue;
        }
        if (const int sig = signals.exchange(0); sig != 0) {
            forwarded = true;
            for (auto& r : ranks)
                if (r.running) ::kill(r.pid, sig);
        }
        if (first_failure && !killed && Clock::now() >= kill_at) {
            for (auto& r : ranks)
                if (r.running) ::kill(r.pid, SIGKILL);
            killed = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!first_failure) return;

    std::string others;
    for (const auto& r : ranks)
        if (&r != first_failure)
            others += "\n  rank " + std::to_string(r.rank) + " " + status_text(r.status);
    if (forwarded)
        throw Error(ErrorKind::cancelled,
                    "the ranks were stopped by a forwarded signal; rank " +
                        std::to_string(first_failure->rank) + " " +
                        status_text(first_failure->status) + others,
                    "continue with: llmtune launch ... -- train CONFIG --resume");
    const int code = WIFEXITED(first_failure->status) ? WEXITSTATUS(first_failure->status) : -1;
    throw Error(code == 1 ? ErrorKind::invalid_input
                          : code == 4 ? ErrorKind::internal : ErrorKind::io,
                "rank " + std::to_string(first_failure->rank) + " (pid " +
                    std::to_string(first_failure->pid) + ") " +
                    status_text(first_failure->status) + "; the job failed" + others,
                "the first failed rank's own error (above) says why; resume from the last "
                "checkpoint with: llmtune launch ... -- train CONFIG --resume");
}

int free_loopback_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        const int err = errno;
        if (fd >= 0) ::close(fd);
        throw_io("cannot find a free loopback port: " + errno_text(err));
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

}  // namespace llmtune::dist
