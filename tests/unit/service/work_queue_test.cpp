#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "common/error.h"
#include "service/work_queue.h"

using namespace llmtune;
using namespace llmtune::service;

TEST(WorkQueue, OneThreadRunsTasksInSubmissionOrder) {
    WorkQueue q(1);
    std::mutex m;
    std::vector<int> order;
    for (int i = 0; i < 50; ++i)
        q.submit("t", [&, i] {
            std::lock_guard<std::mutex> lock(m);
            order.push_back(i);
        });
    q.wait_idle();
    ASSERT_EQ(order.size(), 50u);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(order[i], i);
}

TEST(WorkQueue, AFailingTaskDoesNotStopTheQueue) {
    WorkQueue q(1);
    std::atomic<int> ran{0};
    q.submit("throws", [] { throw Error(ErrorKind::internal, "boom"); });
    q.submit("throws std", [] { throw std::runtime_error("boom"); });
    q.submit("runs", [&] { ++ran; });
    q.wait_idle();
    EXPECT_EQ(ran.load(), 1);
}

TEST(WorkQueue, StopDropsPendingTasksAndRefusesNewOnes) {
    WorkQueue q(1);
    std::atomic<bool> saw_stop{false};
    std::atomic<int> later{0};
    q.submit("blocker", [&] {
        while (!q.stopping()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        saw_stop = true;  // a running task observes the stop flag
    });
    for (int i = 0; i < 5; ++i) q.submit("pending", [&] { ++later; });
    while (q.running() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(q.pending(), 5u);
    q.stop();
    EXPECT_TRUE(saw_stop.load());
    EXPECT_EQ(later.load(), 0) << "tasks queued before stop() ran after it";
    EXPECT_FALSE(q.submit("late", [&] { ++later; }));
}
