// The process group and the bucketed gradient all-reduce, with two ranks as two threads of
// this process (Gloo does not care), and the rendezvous failures: a port in use, an
// unreachable master, a rank that never joins, a rank that hangs in a collective.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <future>
#include <thread>

#include "common/error.h"
#include "dist/bucketed_sync.h"
#include "dist/process_group.h"
#include "dist_test_util.h"

namespace llmtune::dist {
namespace {

using namespace std::chrono_literals;
using testing::free_port;
using testing::local_env;
using Clock = std::chrono::steady_clock;

// Runs body(rank) on `world` threads, each with its own process group.
void run_ranks(int world, const std::function<void(ProcessGroup&)>& body,
               std::chrono::milliseconds timeout = 20s) {
    const int port = free_port();
    std::vector<std::future<void>> done;
    for (int r = 0; r < world; ++r)
        done.push_back(std::async(std::launch::async, [=] {
            auto g = ProcessGroup::connect(local_env(r, world, port), Backend::gloo, timeout);
            body(*g);
        }));
    for (auto& f : done)
        f.get();  // rethrows a rank's failure
}

std::string io_error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::io) << e.message();
        EXPECT_FALSE(e.hint().empty());
        return e.message();
    }
    ADD_FAILURE() << "no error";
    return "";
}

// A small model whose parameters span several buckets; `unused` never gets a gradient and
// `rank0_only` only on rank 0. They come first, so they share the last bucket (buckets follow
// the reverse order) and the others can leave during backward.
struct Net {
    torch::Tensor w1 = torch::randn({8, 6}, torch::requires_grad());
    torch::Tensor b1 = torch::randn({8}, torch::requires_grad());
    torch::Tensor w2 = torch::randn({3, 8}, torch::requires_grad());
    torch::Tensor rank0_only = torch::randn({3}, torch::requires_grad());
    torch::Tensor unused = torch::randn({5}, torch::requires_grad());
    std::vector<torch::Tensor> params() const { return {unused, rank0_only, w1, b1, w2}; }
    torch::Tensor loss(const torch::Tensor& x, bool use_rank0_only) const {
        auto h = torch::tanh(torch::matmul(x, w1.t()) + b1);
        auto y = torch::matmul(h, w2.t());
        if (use_rank0_only) y = y + rank0_only;
        return (y * y).sum();
    }
};

TEST(ProcessGroup, AllReduceBroadcastBarrier) {
    run_ranks(2, [](ProcessGroup& g) {
        DistributedSync sync(g);
        EXPECT_EQ(sync.world_size(), 2);
        EXPECT_DOUBLE_EQ(sync.all_reduce_sum(g.rank() == 0 ? 1.25 : 3.5), 4.75);
        torch::Tensor t = torch::full({4}, static_cast<float>(g.rank() + 7));
        sync.broadcast_from_rank0(t);
        EXPECT_TRUE(torch::equal(t, torch::full({4}, 7.0f)));
        sync.barrier();
    });
}

// Two ranks, different data, tiny buckets, overlap on and off: every rank ends with the sum of
// both ranks' gradients, a parameter only rank 0 used gets rank 0's gradient on both, and a
// parameter nobody used stays without a gradient.
void check_bucketed(bool overlap, int64_t micro_batches) {
    torch::manual_seed(3);
    const Net ref_net;
    const torch::Tensor x0 = torch::randn({micro_batches, 4, 6});
    const torch::Tensor x1 = torch::randn({micro_batches, 4, 6});
    // The expected gradients: both ranks' losses in one process.
    std::vector<torch::Tensor> expected;
    {
        Net n;
        for (size_t i = 0; i < n.params().size(); ++i)
            n.params()[i].detach().copy_(ref_net.params()[i].detach());
        for (int64_t m = 0; m < micro_batches; ++m)
            (n.loss(x0[m], true) + n.loss(x1[m], false)).backward();
        for (const auto& p : n.params())
            expected.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
    }
    run_ranks(2, [&](ProcessGroup& g) {
        Net n;
        for (size_t i = 0; i < n.params().size(); ++i)
            n.params()[i].detach().copy_(ref_net.params()[i].detach());
        SyncOptions o;
        o.bucket_bytes = 100;  // a few parameters per bucket
        o.overlap = overlap;
        DistributedSync sync(g, o);
        sync.register_parameters(n.params());
        EXPECT_GE(sync.bucket_layout().size(), 3u);
        for (int step = 0; step < 2; ++step) {
            for (auto p : n.params())
                p.mutable_grad() = torch::Tensor();
            const auto& x = g.rank() == 0 ? x0 : x1;
            for (int64_t m = 0; m < micro_batches; ++m) {
                if (m + 1 == micro_batches) sync.before_last_backward();
                n.loss(x[m], g.rank() == 0).backward();
            }
            sync.all_reduce_gradients({});
            const auto ps = n.params();
            for (size_t i = 0; i < ps.size(); ++i) {
                if (!expected[i].defined()) {
                    EXPECT_FALSE(ps[i].grad().defined()) << "param " << i;
                    continue;
                }
                ASSERT_TRUE(ps[i].grad().defined()) << "param " << i;
                EXPECT_TRUE(torch::allclose(ps[i].grad(), expected[i], 1e-5, 1e-6))
                    << "param " << i << " rank " << g.rank();
            }
        }
        const SyncStats& s = sync.stats();
        EXPECT_EQ(s.gradient_syncs, 2);
        EXPECT_EQ(s.buckets_launched, 2 * static_cast<int64_t>(sync.bucket_layout().size()));
        if (overlap) {
            // Every bucket but the one holding `unused` (and on rank 1 `rank0_only`) leaves
            // during backward.
            EXPECT_GT(s.buckets_launched_in_backward, 0);
        } else {
            EXPECT_EQ(s.buckets_launched_in_backward, 0);
        }
    });
}

TEST(BucketedSync, SumsGradientsWithOverlap) { check_bucketed(true, 1); }
TEST(BucketedSync, SumsGradientsWithoutOverlap) { check_bucketed(false, 1); }
TEST(BucketedSync, SumsAccumulatedGradients) { check_bucketed(true, 3); }

TEST(BucketedSync, RankWithoutDataStillTakesPart) {
    torch::manual_seed(4);
    const Net ref_net;
    const torch::Tensor x0 = torch::randn({4, 6});
    Net expect_net;
    for (size_t i = 0; i < expect_net.params().size(); ++i)
        expect_net.params()[i].detach().copy_(ref_net.params()[i].detach());
    expect_net.loss(x0, true).backward();
    run_ranks(2, [&](ProcessGroup& g) {
        Net n;
        for (size_t i = 0; i < n.params().size(); ++i)
            n.params()[i].detach().copy_(ref_net.params()[i].detach());
        DistributedSync sync(g, SyncOptions{64, true});
        sync.register_parameters(n.params());
        if (g.rank() == 0) {
            sync.before_last_backward();
            n.loss(x0, true).backward();
        }
        sync.all_reduce_gradients({});
        EXPECT_TRUE(torch::allclose(n.w1.grad(), expect_net.w1.grad()));
        EXPECT_TRUE(torch::allclose(n.rank0_only.grad(), expect_net.rank0_only.grad()));
        EXPECT_FALSE(n.unused.grad().defined());
    });
}

TEST(ProcessGroup, PortInUseIsAClearError) {
    // Hold a listening socket on the port rank 0 is told to serve.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = 0;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    const int port = ntohs(a.sin_port);
    const auto t0 = Clock::now();
    const std::string msg = io_error_of(
        [&] { ProcessGroup::connect(local_env(0, 2, port), Backend::gloo, 5s); });
    ::close(fd);
    EXPECT_NE(msg.find("rank 0 cannot serve the rendezvous store on port " +
                       std::to_string(port) + ": the port is already in use"),
              std::string::npos)
        << msg;
    EXPECT_LT(Clock::now() - t0, 5s);  // not a wait for the timeout
}

TEST(ProcessGroup, UnreachableMasterIsAClearErrorAfterTheTimeout) {
    const int port = free_port();  // nobody listens there
    const auto t0 = Clock::now();
    const std::string msg = io_error_of(
        [&] { ProcessGroup::connect(local_env(1, 2, port), Backend::gloo, 1500ms); });
    EXPECT_NE(msg.find("rank 1 could not reach the master at 127.0.0.1:" + std::to_string(port) +
                       " within 1.5 s"),
              std::string::npos)
        << msg;
    EXPECT_LT(Clock::now() - t0, 15s);
}

TEST(ProcessGroup, MissingRankIsAClearErrorAfterTheTimeout) {
    const int port = free_port();
    const std::string msg = io_error_of(
        [&] { ProcessGroup::connect(local_env(0, 2, port), Backend::gloo, 1500ms); });
    EXPECT_NE(msg.find("not all 2 ranks joined"), std::string::npos) << msg;
    EXPECT_NE(msg.find("within 1.5 s"), std::string::npos) << msg;
}

TEST(ProcessGroup, HungRankMakesTheOthersFailAtTheTimeout) {
    std::promise<void> rank0_done;
    auto rank0_finished = rank0_done.get_future().share();
    run_ranks(
        2,
        [&](ProcessGroup& g) {
            DistributedSync sync(g);
            if (g.rank() == 1) {  // never joins the collective until rank 0 gave up
                rank0_finished.wait();
                return;
            }
            const auto t0 = Clock::now();
            const std::string msg = io_error_of([&] { sync.all_reduce_sum(1.0); });
            rank0_done.set_value();
            EXPECT_NE(msg.find("rank 0 of 2: an all-reduce of the step's sums failed: no answer "
                               "from the other ranks within 2 s"),
                      std::string::npos)
                << msg;
            EXPECT_LT(Clock::now() - t0, 10s);
        },
        2s);
}

}  // namespace
}  // namespace llmtune::dist
