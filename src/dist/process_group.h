// One rank's membership of a data-parallel job: rendezvous through c10d's TCPStore (rank 0
// serves it at MASTER_ADDR:MASTER_PORT), then a c10d process group: Gloo for CPU tensors,
// NCCL for CUDA tensors when llmtune is built against a CUDA libtorch that has it
// (LLMTUNE_HAVE_NCCL); a CPU build asked for NCCL says so instead of pretending.
//
// Ordering, cancellation and crash behaviour:
//   - Collectives must be issued by every rank in the same order; the async ones run on the
//     backend's own threads (Gloo: 2 worker threads) and complete in issue order per rank.
//   - Every wait is bounded by the group's timeout (LLMTUNE_DIST_TIMEOUT_S): the rendezvous
//     (TCPStore's timeout: rank 0 waits that long for the others to join, the others retry
//     connecting that long), and each collective and barrier (the backend's timeout).
//   - A rank that dies closes its sockets, so the others' pending collectives fail at once
//     with a "connection closed" error; a rank that hangs makes them fail at the timeout.
//     Either way the failure surfaces as Error{io} naming this rank, the operation and the
//     cause: never a hang, never a silent partial result.
//   - Nothing can be cancelled mid-collective; the trainer only stops between steps.
#pragma once

#include <torch/csrc/distributed/c10d/Work.hpp>
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>

#include "dist/rank_env.h"

namespace llmtune::dist {

enum class Backend { gloo, nccl };

// "gloo" or "nccl".
const char* backend_name(Backend b);

// Whether this build can create the backend (Gloo always; NCCL only with LLMTUNE_HAVE_NCCL).
bool backend_available(Backend b);

class ProcessGroup;

// An async collective in flight. wait() rethrows its failure as Error{io}.
class PendingWork {
  public:
    PendingWork() = default;
    void wait();
    bool valid() const { return work_.defined(); }

  private:
    friend class ProcessGroup;
    PendingWork(c10::intrusive_ptr<c10d::Work> work, const ProcessGroup* group, std::string what)
        : work_(std::move(work)), group_(group), what_(std::move(what)) {}
    c10::intrusive_ptr<c10d::Work> work_;
    const ProcessGroup* group_ = nullptr;
    std::string what_;
};

class ProcessGroup {
  public:
    // Rendezvous and backend setup. Errors (Error{io} unless noted), each naming the address:
    //   - rank 0 cannot listen on MASTER_PORT (e.g. already in use),
    //   - a rank cannot reach the master within the timeout,
    //   - rank 0 waited the timeout and not every rank joined,
    //   - invalid_input: the backend is not in this build (NCCL on a CPU libtorch).
    static std::unique_ptr<ProcessGroup> connect(const RankEnv& env, Backend backend,
                                                 std::chrono::milliseconds timeout);
    ~ProcessGroup();
    ProcessGroup(const ProcessGroup&) = delete;
    ProcessGroup& operator=(const ProcessGroup&) = delete;

    int rank() const { return env_.rank; }
    int world_size() const { return env_.world_size; }
    const RankEnv& env() const { return env_; }
    Backend backend() const { return backend_; }
    std::chrono::milliseconds timeout() const { return timeout_; }
    // Where this group's tensors live: CPU for Gloo, cuda:LOCAL_RANK for NCCL.
    torch::Device device() const;

    // Sums `t` over all ranks, in place (t contiguous, on device()).
    PendingWork all_reduce_sum_async(torch::Tensor t, const std::string& what);
    void all_reduce_sum(torch::Tensor t, const std::string& what);
    // Overwrites `t` with rank 0's value on every rank.
    void broadcast_from_rank0(torch::Tensor t, const std::string& what);
    void barrier(const std::string& what);

    // The Error{io} a failed collective becomes (public for PendingWork).
    [[noreturn]] void fail(const std::string& what, const std::string& cause) const;

  private:
    struct Impl;
    ProcessGroup(const RankEnv& env, Backend backend, std::chrono::milliseconds timeout);
    RankEnv env_;
    Backend backend_;
    std::chrono::milliseconds timeout_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace llmtune::dist
