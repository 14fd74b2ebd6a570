#include "service/work_queue.h"

#include "common/error.h"
#include "service/log.h"

namespace llmtune::service {

WorkQueue::WorkQueue(size_t threads) {
    if (threads == 0) threads = 1;
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

WorkQueue::~WorkQueue() { stop(); }

bool WorkQueue::submit(std::string name, std::function<void()> task) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return false;
        tasks_.push_back(Task{std::move(name), std::move(task)});
    }
    cv_.notify_one();
    return true;
}

void WorkQueue::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        tasks_.clear();
    }
    cv_.notify_all();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
    idle_cv_.notify_all();
}

size_t WorkQueue::pending() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return tasks_.size();
}

void WorkQueue::wait_idle() {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_cv_.wait(lock, [this] { return (tasks_.empty() && running_ == 0) || stopping_; });
}

void WorkQueue::run() {
    for (;;) {
        Task task;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
            if (stopping_) return;
            task = std::move(tasks_.front());
            tasks_.pop_front();
            ++running_;
        }
        try {
            task.fn();
        } catch (const Error& e) {
            log_event(LogLevel::error, "background task failed",
                      {{"task", task.name}, {"kind", error_kind_name(e.kind())},
                       {"error", e.message()}});
        } catch (const std::exception& e) {
            log_event(LogLevel::error, "background task failed",
                      {{"task", task.name}, {"error", e.what()}});
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            --running_;
        }
        idle_cv_.notify_all();
    }
}

}  // namespace llmtune::service
