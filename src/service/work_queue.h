// WorkQueue: a small pool of background threads running tasks (file validation and
// conversion today).
//
// Ordering: tasks start in the order they were submitted (FIFO). With one thread (the
// default) they also finish in that order; with N threads up to N run at once.
//
// Cancellation: stop() refuses new tasks, drops the tasks that have not started, raises the
// stop flag that running tasks poll through stopping(), and joins the threads. A task that
// sees the flag should give up quickly (throwing or returning); the work it was doing must be
// safe to redo, because nothing marks it done.
//
// Crash behaviour: the queue lives in memory only. Durability comes from the caller: work is
// recorded in the metadata store before it is submitted (a file row with status `uploaded`)
// and marked done in the same store when it completes, so after a crash or a stop() the
// caller resubmits everything still pending at the next start (FileService::recover).
//
// Errors: an exception escaping a task is logged and swallowed; it never ends a thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace llmtune::service {

class WorkQueue {
  public:
    explicit WorkQueue(size_t threads = 1);
    ~WorkQueue();  // stop()
    WorkQueue(const WorkQueue&) = delete;
    WorkQueue& operator=(const WorkQueue&) = delete;

    // Queues a task; `name` appears in logs. False (and nothing queued) after stop().
    bool submit(std::string name, std::function<void()> task);

    void stop();
    bool stopping() const { return stopping_.load(); }

    // Tasks queued but not started, and tasks running.
    size_t pending() const;
    size_t running() const { return running_.load(); }

    // Blocks until nothing is queued or running (tests).
    void wait_idle();

  private:
    void run();

    struct Task {
        std::string name;
        std::function<void()> fn;
    };
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::condition_variable idle_cv_;
    std::deque<Task> tasks_;
    std::vector<std::thread> threads_;
    std::atomic<bool> stopping_{false};
    std::atomic<size_t> running_{0};
};

}  // namespace llmtune::service
