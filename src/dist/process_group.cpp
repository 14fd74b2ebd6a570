#include "dist/process_group.h"

// ProcessGroupGloo.hpp declares its class only under USE_C10D_GLOO (torch's own build flag);
// Debian's libtorch_cpu carries the Gloo backend and links libgloo. Defined here, not on the
// command line, so the shared torch precompiled header still applies.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef LLMTUNE_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>

#include "common/error.h"

namespace llmtune::dist {

namespace {

std::string seconds_text(std::chrono::milliseconds ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(ms.count()) / 1000.0);
    return buf;
}

bool contains(const std::string& s, const char* needle) {
    return s.find(needle) != std::string::npos;
}

// c10d's messages carry a C++ backtrace after the first line in some builds; keep the cause.
std::string first_line(const std::string& s) {
    const auto nl = s.find('\n');
    return nl == std::string::npos ? s : s.substr(0, nl);
}

std::string what_of(const std::exception& e) {
    if (const auto* ce = dynamic_cast<const c10::Error*>(&e))
        return first_line(ce->what_without_backtrace());
    return first_line(e.what());
}

bool is_loopback(const std::string& addr) {
    return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

std::shared_ptr<::gloo::transport::Device> gloo_device(const RankEnv& env) {
    // GLOO_SOCKET_IFNAME is the variable torch itself honours for the same choice.
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
        return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
    // A job whose master is on loopback lives on one node: bind loopback, whatever the
    // hostname resolves to (containers often resolve it to nothing useful).
    if (is_loopback(env.master_addr))
        return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
    return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

const char* backend_name(Backend b) {
    return b == Backend::gloo ? "gloo" : "nccl";
}

bool backend_available(Backend b) {
#ifdef LLMTUNE_HAVE_NCCL
    return true;
#else
    return b == Backend::gloo;
#endif
}

struct ProcessGroup::Impl {
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#ifdef LLMTUNE_HAVE_NCCL
    c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif

    template <class F>
    c10::intrusive_ptr<c10d::Work> call(F&& f) {
#ifdef LLMTUNE_HAVE_NCCL
        if (nccl) return f(*nccl);
#endif
        return f(*gloo);
    }
};

void PendingWork::wait() {
    LLMTUNE_ASSERT(work_.defined(), "wait on a launched collective");
    try {
        work_->wait();
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        work_.reset();
        group_->fail(what_, what_of(e));
    }
    work_.reset();
}

ProcessGroup::ProcessGroup(const RankEnv& env, Backend backend, std::chrono::milliseconds timeout)
    : env_(env), backend_(backend), timeout_(timeout), impl_(std::make_unique<Impl>()) {}

ProcessGroup::~ProcessGroup() = default;

std::unique_ptr<ProcessGroup> ProcessGroup::connect(const RankEnv& env, Backend backend,
                                                    std::chrono::milliseconds timeout) {
    if (!backend_available(backend))
        throw_invalid(std::string("the ") + backend_name(backend) +
                          " backend is not in this build of llmtune (built against a CPU "
                          "libtorch without NCCL)",
                      "train on model.device: cpu (Gloo), or build llmtune against a CUDA "
                      "libtorch 2.x");
    std::unique_ptr<ProcessGroup> g(new ProcessGroup(env, backend, timeout));
    const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
    const std::string rank_text = "rank " + std::to_string(env.rank);

    // 1. The store: rank 0 serves it and waits for every rank to join.
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = static_cast<std::size_t>(env.world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
    try {
        g->impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
    } catch (const std::exception& e) {
        const std::string cause = what_of(e);
        if (env.rank == 0 && (contains(cause, "in use") || contains(cause, "errno: 98") ||
                              contains(cause, "failed to listen") || contains(cause, "bind")))
            throw_io(rank_text + " cannot serve the rendezvous store on port " +
                         std::to_string(env.master_port) +
                         (contains(cause, "in use") || contains(cause, "errno: 98")
                              ? ": the port is already in use"
                              : "") +
                         " (" + cause + ")",
                     "choose a free MASTER_PORT (llmtune launch --master-port P), or stop the "
                     "job that holds it");
        if (env.rank == 0 && (contains(cause, "clients") || contains(cause, "imed out")))
            throw_io(rank_text + " served the rendezvous store at " + where + " but not all " +
                         std::to_string(env.world_size) + " ranks joined within " +
                         seconds_text(timeout) + " (" + cause + ")",
                     "start every rank (WORLD_SIZE=" + std::to_string(env.world_size) +
                         ") with the same MASTER_ADDR and MASTER_PORT, or raise "
                         "LLMTUNE_DIST_TIMEOUT_S");
        if (env.rank != 0)
            throw_io(rank_text + " could not reach the master at " + where + " within " +
                         seconds_text(timeout) + " (" + cause + ")",
                     "check that rank 0 is running and that MASTER_ADDR/MASTER_PORT name it "
                     "(the address must be reachable from this node), or raise "
                     "LLMTUNE_DIST_TIMEOUT_S");
        throw_io(rank_text + ": rendezvous at " + where + " failed: " + cause,
                 "check MASTER_ADDR and MASTER_PORT");
    }

    // 2. The backend, which connects every pair of ranks through the store.
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>("llmtune/pg0", g->impl_->store);
    try {
        if (backend == Backend::gloo) {
            auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
            opts->devices.push_back(gloo_device(env));
            g->impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, env.rank,
                                                                         env.world_size, opts);
        } else {
#ifdef LLMTUNE_HAVE_NCCL
            auto opts = c10d::ProcessGroupNCCL::Options::create();
            opts->timeout = timeout;
            g->impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, env.rank,
                                                                         env.world_size, opts);
#endif
        }
    } catch (const std::exception& e) {
        const std::string cause = what_of(e);
        if (contains(cause, "imeout") || contains(cause, "imed out"))
            throw_io(rank_text + ": not all " + std::to_string(env.world_size) +
                         " ranks joined the " + backend_name(backend) + " process group (store at " +
                         where + ") within " + seconds_text(timeout) + " (" + cause + ")",
                     "start every rank (WORLD_SIZE=" + std::to_string(env.world_size) +
                         ") with the same MASTER_ADDR and MASTER_PORT; on several nodes every "
                         "rank must reach every other (GLOO_SOCKET_IFNAME names the interface); "
                         "or raise LLMTUNE_DIST_TIMEOUT_S");
        throw_io(rank_text + ": connecting the " + backend_name(backend) + " process group (" +
                     std::to_string(env.world_size) + " ranks, store at " + where +
                     ") failed: " + cause,
                 "every rank must reach every other rank; on several nodes set "
                 "GLOO_SOCKET_IFNAME to the interface they share, or raise "
                 "LLMTUNE_DIST_TIMEOUT_S");
    }
    return g;
}

torch::Device ProcessGroup::device() const {
    if (backend_ == Backend::nccl) return torch::Device(torch::kCUDA, env_.local_rank);
    return torch::kCPU;
}

void ProcessGroup::fail(const std::string& what, const std::string& cause) const {
    const bool timed_out = contains(cause, "imed out") || contains(cause, "imeout");
    throw_io("rank " + std::to_string(env_.rank) + " of " + std::to_string(env_.world_size) +
                 ": " + what + " failed: " +
                 (timed_out ? "no answer from the other ranks within " + seconds_text(timeout_)
                            : std::string("another rank stopped")) +
                 " (" + cause + ")",
             timed_out ? "another rank is hung or far behind; check its log, or raise "
                         "LLMTUNE_DIST_TIMEOUT_S"
                       : "another rank failed or was killed; its own error says why");
}

PendingWork ProcessGroup::all_reduce_sum_async(torch::Tensor t, const std::string& what) {
    std::vector<at::Tensor> ts = {std::move(t)};
    try {
        auto work = impl_->call([&](auto& pg) { return pg.allreduce(ts); });
        return PendingWork(std::move(work), this, what);
    } catch (const std::exception& e) {
        fail(what, what_of(e));
    }
}

void ProcessGroup::all_reduce_sum(torch::Tensor t, const std::string& what) {
    all_reduce_sum_async(std::move(t), what).wait();
}

void ProcessGroup::broadcast_from_rank0(torch::Tensor t, const std::string& what) {
    std::vector<at::Tensor> ts = {std::move(t)};
    c10::intrusive_ptr<c10d::Work> work;
    try {
        work = impl_->call([&](auto& pg) { return pg.broadcast(ts); });
    } catch (const std::exception& e) {
        fail(what, what_of(e));
    }
    PendingWork(std::move(work), this, what).wait();
}

void ProcessGroup::barrier(const std::string& what) {
    c10::intrusive_ptr<c10d::Work> work;
    try {
        work = impl_->call([&](auto& pg) { return pg.barrier(); });
    } catch (const std::exception& e) {
        fail(what, what_of(e));
    }
    PendingWork(std::move(work), this, what).wait();
}

}  // namespace llmtune::dist
