#include "service/scheduler.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "service/ids.h"
#include "service/job_spec.h"
#include "service/log.h"
#include "service/model_catalog.h"
#include "service/sagemaker_backend.h"
#include "service/service_error.h"

namespace fs = std::filesystem;

namespace llmtune::service {

struct Scheduler::Worker {
    std::string job_id;
    pid_t pid = -1;
    int stdout_fd = -1;
    std::string stop_reason;  // "" | "cancel" | "pause" | "shutdown"
    std::thread thread;
    std::atomic<bool> done{false};
    ordered_json last_metrics = ordered_json::object();  // the newest train/eval values
    // A SageMaker job (no process): cancel and detach are flags its monitor reads.
    bool remote = false;
    std::atomic<bool> remote_stop{false}, remote_detach{false};
};

namespace {

bool terminal(const std::string& status) {
    return status == kJobSucceeded || status == kJobFailed || status == kJobCancelled;
}

std::string signal_name(int sig) {
    const char* n = ::strsignal(sig);
    return n ? std::string(n) : "signal " + std::to_string(sig);
}

std::string fmt4(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", v);
    return buf;
}

// The last `max` bytes of a file (the worker's stderr), for error messages.
std::string file_tail(const std::string& path, size_t max = 2000) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return "";
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    std::streamoff from = size > static_cast<std::streamoff>(max) ? size - max : 0;
    in.seekg(from);
    std::string out(static_cast<size_t>(size - from), '\0');
    in.read(out.data(), static_cast<std::streamsize>(out.size()));
    return out;
}

}  // namespace

std::string fine_tuned_model_id(const JobRecord& job) {
    std::string id = job.id.rfind("ftjob-", 0) == 0 ? job.id.substr(6) : job.id;
    return "ft:" + job.model + ":" + job.suffix + ":" + id;
}

void Scheduler::run_hook(const char* what, const std::string& job_id,
                         const std::function<void()>& hook) {
    try {
        hook();
    } catch (const std::exception& e) {
        add_event(job_id, "warn", std::string("The job's ") + what + " could not be recorded: " + e.what());
    }
}

Scheduler::Scheduler(MetadataStore& store, SchedulerConfig config)
    : store_(store), config_(std::move(config)) {}

Scheduler::~Scheduler() { stop(); }

std::string Scheduler::job_dir(const std::string& job_id) const {
    return config_.data_dir + "/jobs/" + job_id;
}

namespace {

JobEventRecord make_event(const std::string& job_id, const std::string& level,
                          const std::string& message, const std::string& type,
                          const ordered_json& data) {
    JobEventRecord e;
    e.id = new_id("ftevent-");
    e.job_id = job_id;
    e.created_at = unix_now();
    e.level = level;
    e.message = message;
    e.type = type;
    e.data_json = data.dump();
    return e;
}

}  // namespace

void Scheduler::add_event(const std::string& job_id, const std::string& level,
                          const std::string& message, const std::string& type,
                          const ordered_json& data) {
    store_.add_job_event(make_event(job_id, level, message, type, data));
}

void Scheduler::update_with_event(const JobRecord& job, const std::string& level,
                                  const std::string& message) {
    store_.update_job_with_event(job,
                                 make_event(job.id, level, message, "message", ordered_json::object()));
}

void Scheduler::start() {
    recover();
    thread_ = std::thread([this] { loop(); });
}

void Scheduler::wake() {
    std::lock_guard<std::mutex> lock(mutex_);
    woken_ = true;
    cv_.notify_all();
}

void Scheduler::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_ && !thread_.joinable() && workers_.empty()) return;
        stopping_ = true;
        for (auto& [id, w] : workers_)
            if (!w->done && w->stop_reason.empty()) {
                w->stop_reason = "shutdown";
                if (w->remote)
                    w->remote_detach = true;  // the SageMaker job keeps running
                else
                    ::kill(w->pid, SIGTERM);
            }
        cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    // The monitors record each outcome (the job goes back to the queue) as its worker exits.
    std::map<std::string, std::unique_ptr<Worker>> workers;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        workers.swap(workers_);
    }
    for (auto& [id, w] : workers)
        if (w->thread.joinable()) w->thread.join();
}

void Scheduler::recover() {
    for (auto job : store_.jobs_with_status({kJobRunning})) {
        if (job.worker_pid > 0) {
            // A worker of the previous server may still run (it got SIGTERM through
            // PR_SET_PDEATHSIG and is writing its checkpoint): let it finish, then make sure.
            std::string cmdline;
            {
                std::ifstream in("/proc/" + std::to_string(job.worker_pid) + "/cmdline");
                std::getline(in, cmdline, '\0');
                std::string arg;
                while (std::getline(in, arg, '\0')) cmdline += " " + arg;
            }
            if (cmdline.find(job_dir(job.id)) != std::string::npos) {
                for (int i = 0; i < 300 && ::kill(job.worker_pid, 0) == 0; ++i)
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                ::kill(static_cast<pid_t>(job.worker_pid), SIGKILL);
                for (int i = 0; i < 50 && ::kill(job.worker_pid, 0) == 0; ++i)
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
        job.status = kJobQueued;
        job.resume = true;
        job.worker_pid = 0;
        job.stop_request.clear();
        store_.update_job(job);
        add_event(job.id, "warn",
                  "The server restarted while the job was running; it resumes from its last "
                  "checkpoint.");
    }
}

void Scheduler::loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        // Reap finished monitors.
        for (auto it = workers_.begin(); it != workers_.end();) {
            if (it->second->done) {
                if (it->second->thread.joinable()) it->second->thread.join();
                it = workers_.erase(it);
            } else {
                ++it;
            }
        }
        try {
            promote_validating();
            start_queued();
        } catch (const std::exception& e) {
            log_event(LogLevel::error, "scheduler error", {{"error", e.what()}});
        }
        cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_ || woken_; });
        woken_ = false;
    }
}

void Scheduler::fail(JobRecord& job, const std::string& code, const std::string& message,
                     const std::string& param) {
    job.status = kJobFailed;
    job.error_code = code;
    job.error_message = message;
    job.error_param = param;
    job.finished_at = unix_now();
    job.estimated_finish.reset();
    job.worker_pid = 0;
    update_with_event(job, "error", "The job failed (" + code + "): " + message);
}

void Scheduler::promote_validating() {
    for (auto job : store_.jobs_with_status({kJobValidatingFiles})) {
        int64_t records = 0;
        bool pending = false, failed = false;
        for (const auto& [param, id] : {std::pair<std::string, std::string>{"training_file", job.training_file},
                                        {"validation_file", job.validation_file}}) {
            if (id.empty() || failed) continue;
            auto f = store_.get_file(job.project_id, id);
            if (!f) {
                fail(job, "invalid_" + param, "The file " + id + " was deleted before training.",
                     param);
                failed = true;
            } else if (f->status == kFileError) {
                fail(job, "invalid_" + param,
                     "The file " + id + " is not valid training data: " + f->status_details, param);
                failed = true;
            } else if (f->status != kFileProcessed) {
                pending = true;
            } else if (param == "training_file") {
                records = f->canonical_records;
            }
        }
        if (failed || pending) continue;
        if (records <= 0) {
            fail(job, "invalid_training_file", "The training file has no records.", "training_file");
            continue;
        }
        JobSpec spec = JobSpec::from_json(ordered_json::parse(job.spec_json));
        resolve_auto(spec, records);
        job.spec_json = spec.to_json().dump();
        job.status = kJobQueued;
        store_.update_job(job);
        run_hook("estimate", job.id, [&] { if (config_.on_queued) config_.on_queued(job); });
        add_event(job.id, "info",
                  "Files validated (" + std::to_string(records) +
                      " training examples); the job is queued. Hyperparameters: n_epochs=" +
                      std::to_string(*spec.n_epochs) + ", batch_size=" +
                      std::to_string(*spec.batch_size) + ", learning_rate=" +
                      std::to_string(spec.effective_learning_rate()) + ".");
    }
}

void Scheduler::start_queued() {
    int running = 0;
    for (auto& [id, w] : workers_) running += w->done ? 0 : 1;
    if (running >= config_.max_concurrent) return;
    for (auto job : store_.jobs_with_status({kJobQueued})) {
        if (running >= config_.max_concurrent || stopping_) break;
        if (workers_.count(job.id)) continue;  // its monitor is still recording the last run
        try {
            launch(job);
            ++running;
        } catch (const ServiceError& e) {
            fail(job, e.code().empty() ? "internal_error" : e.code(), e.message(), e.param());
        } catch (const Error& e) {
            fail(job, "internal_error", "the worker could not be started: " + e.message());
        }
    }
}

void Scheduler::launch(JobRecord job) {
    auto base = find_base_model(config_.models_dir, job.model);
    if (!base)
        throw ServiceError(ErrorKind::not_found,
                           "The base model '" + job.model + "' is no longer in the models dir.",
                           "model", "model_not_found");
    const std::string dir = job_dir(job.id);
    make_dirs(dir + "/data");
    make_dirs(dir + "/output");
    // The canonical JSONL of each file, linked under a .jsonl name (the data library takes
    // the format from the name).
    auto link_file = [&](const std::string& id, const std::string& name) {
        auto f = store_.get_file(job.project_id, id);
        if (!f || f->status != kFileProcessed)
            throw ServiceError(ErrorKind::invalid_input, "The file " + id + " is not available.",
                               name == "train.jsonl" ? "training_file" : "validation_file",
                               name == "train.jsonl" ? "invalid_training_file"
                                                     : "invalid_validation_file");
        std::string blob = config_.blob_path ? config_.blob_path(f->canonical_sha256)
                                             : config_.data_dir + "/blobs/sha256/" +
                                                   f->canonical_sha256.substr(0, 2) + "/" +
                                                   f->canonical_sha256;
        std::string link = dir + "/data/" + name;
        std::error_code ec;
        fs::remove(link, ec);
        fs::create_symlink(blob, link, ec);
        if (ec) throw_io(link + ": cannot link the training data: " + ec.message());
        return link;
    };
    std::string train = link_file(job.training_file, "train.jsonl");
    std::string valid = job.validation_file.empty() ? "" : link_file(job.validation_file, "valid.jsonl");
    JobSpec spec = JobSpec::from_json(ordered_json::parse(job.spec_json));
    ordered_json cfg = make_train_config(spec, base->path, train, valid, dir + "/output", job.seed);
    cfg["threads"] = config_.worker_threads;
    write_json_file(dir + "/train_config.json", cfg);
    if (!spec.backend.is_null()) {
        launch_sagemaker(job, spec.backend, base->path, train, valid, cfg);
        return;
    }
    write_json_file(dir + "/spec.json", {{"id", job.id},
                                         {"model", job.model},
                                         {"model_path", base->path},
                                         {"training_file", job.training_file},
                                         {"validation_file", job.validation_file},
                                         {"seed", job.seed},
                                         {"spec", spec.to_json()}});
    std::error_code ec;
    fs::remove(dir + "/worker_result.json", ec);

    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) throw_io("pipe: " + errno_text(errno));
    int log_fd = ::open((dir + "/worker.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        ::close(pipefd[0]);
        ::close(pipefd[1]);
        throw_io(dir + "/worker.log: " + errno_text(errno));
    }
    // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
    std::vector<std::string> args = {config_.worker_binary, "worker", "--job-dir", dir};
    if (job.resume) args.push_back("--resume");
    // llmtune.ranks > 1: the same worker as that many local data-parallel ranks; the launcher
    // picks a free port, forwards our SIGTERM and fails when a rank fails (dist/launcher.h).
    if (spec.ranks > 1)
        args.insert(args.begin() + 1, {"launch", "--nproc-per-node", std::to_string(spec.ranks),
                                       "--master-port", "0", "--"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    long max_fd = std::min<long>(::sysconf(_SC_OPEN_MAX), 65536);

    pid_t pid = ::fork();
    if (pid < 0) {
        int err = errno;
        ::close(pipefd[0]);
        ::close(pipefd[1]);
        ::close(log_fd);
        throw_io("fork: " + errno_text(err));
    }
    if (pid == 0) {
        // The server blocks SIGTERM in every thread; the worker must receive it.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        ::dup2(pipefd[1], 1);
        ::dup2(log_fd, 2);
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, 0);
        for (long fd = 3; fd < max_fd; ++fd) ::close(static_cast<int>(fd));  // sockets, other pipes
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(pipefd[1]);
    ::close(log_fd);

    bool first = !job.resume;
    job.status = kJobRunning;
    job.worker_pid = pid;
    job.stop_request.clear();
    store_.update_job(job);
    add_event(job.id, "info",
              first ? "Fine-tuning job started."
                    : "Worker started; training continues from the last checkpoint.");

    auto w = std::make_unique<Worker>();
    w->job_id = job.id;
    w->pid = pid;
    w->stdout_fd = pipefd[0];
    Worker* raw = w.get();
    workers_[job.id] = std::move(w);
    raw->thread = std::thread([this, raw] { monitor(raw); });
}

void Scheduler::monitor(Worker* w) {
    std::string buffer;
    char chunk[4096];
    while (true) {
        ssize_t n = ::read(w->stdout_fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        buffer.append(chunk, static_cast<size_t>(n));
        size_t nl;
        while ((nl = buffer.find('\n')) != std::string::npos) {
            std::string line = buffer.substr(0, nl);
            buffer.erase(0, nl + 1);
            auto event = ordered_json::parse(line, nullptr, false);
            if (event.is_discarded() || !event.is_object()) continue;  // not an event line
            std::lock_guard<std::mutex> lock(mutex_);
            try {
                ingest(*w, event);
            } catch (const std::exception& e) {
                log_event(LogLevel::error, "job event not recorded",
                          {{"job", w->job_id}, {"error", e.what()}});
            }
        }
    }
    ::close(w->stdout_fd);
    int status = 0;
    while (::waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::lock_guard<std::mutex> lock(mutex_);
    try {
        finish(*w, status);
    } catch (const std::exception& e) {
        log_event(LogLevel::error, "job outcome not recorded", {{"job", w->job_id}, {"error", e.what()}});
    }
    w->done = true;
    cv_.notify_all();
}

void Scheduler::ingest(Worker& w, const ordered_json& e) {
    const std::string type = e.value("type", "");
    const int64_t step = e.value("step", int64_t{0});
    const int64_t total = e.value("total_steps", int64_t{0});
    if (type == "start" || type == "resume") {
        std::string msg = type == "start"
                              ? "Training started: " + std::to_string(e.value("train_examples", int64_t{0})) +
                                    " examples, " + std::to_string(total) + " steps."
                              : "Resumed from the checkpoint at step " + std::to_string(step) +
                                    " of " + std::to_string(total) + ".";
        add_event(w.job_id, "info", msg, "message", e);
        if (type == "resume") backfill(w, step);
    } else if (type == "train") {
        for (const char* k : {"train_loss", "train_mean_token_accuracy"})
            if (e.contains(k)) w.last_metrics[k] = e[k];
        w.last_metrics["step"] = step;
        ordered_json data = {{"step", step},
                             {"total_steps", total},
                             {"train_loss", e.value("train_loss", 0.0)},
                             {"train_mean_token_accuracy", e.value("train_mean_token_accuracy", 0.0)},
                             {"learning_rate", e.value("lr", 0.0)},
                             {"tokens", e.value("tokens", int64_t{0})},
                             {"tokens_per_s", e.value("tokens_per_s", 0.0)}};
        add_event(w.job_id, "info",
                  "Step " + std::to_string(step) + "/" + std::to_string(total) +
                      ": training loss=" + fmt4(e.value("train_loss", 0.0)),
                  "metrics", data);
        auto job = store_.get_job_any(w.job_id);
        if (job) {
            run_hook("cost", w.job_id, [&] { if (config_.on_train_step) config_.on_train_step(*job, e); });
            if (step > job->last_step) {
                job->trained_tokens += e.value("tokens", int64_t{0});
                job->last_step = step;
            }
            if (e.contains("eta_s")) job->estimated_finish = unix_now() + static_cast<int64_t>(e.value("eta_s", 0.0));
            store_.update_job(*job);
        }
    } else if (type == "eval") {
        for (const char* k : {"valid_loss", "valid_mean_token_accuracy"})
            if (e.contains(k)) w.last_metrics[k] = e[k];
        ordered_json data = {{"step", step},
                             {"valid_loss", e.value("valid_loss", 0.0)},
                             {"valid_mean_token_accuracy", e.value("valid_mean_token_accuracy", 0.0)}};
        add_event(w.job_id, "info",
                  "Step " + std::to_string(step) + ": validation loss=" + fmt4(e.value("valid_loss", 0.0)),
                  "metrics", data);
    } else if (type == "checkpoint") {
        auto job = store_.get_job_any(w.job_id);
        JobCheckpointRecord c;
        c.id = new_id("ftckpt-");
        c.job_id = w.job_id;
        c.created_at = unix_now();
        c.step = step;
        ordered_json metrics = w.last_metrics;
        metrics["step"] = step;
        c.metrics_json = metrics.dump();
        c.fine_tuned_model_checkpoint = job ? fine_tuned_model_id(*job) + ":ckpt-step-" + std::to_string(step) : "";
        c.path = e.value("path", "");
        store_.add_job_checkpoint(c);
        add_event(w.job_id, "info", "Checkpoint created at step " + std::to_string(step) + ".");
    } else if (type == "early_stop") {
        add_event(w.job_id, "info",
                  "Early stopping at step " + std::to_string(step) + ": validation loss stopped improving.",
                  "message", e);
    } else if (type == "interrupted") {
        add_event(w.job_id, "info",
                  "Training stopped at step " + std::to_string(step) + "; checkpoint saved.");
    } else if (type == "error") {
        add_event(w.job_id, "error", "Training error at step " + std::to_string(step) + ": " +
                                         e.value("message", std::string()));
    } else if (type == "end") {
        add_event(w.job_id, "info",
                  "Training finished at step " + std::to_string(step) + " (" +
                      e.value("stop_reason", std::string()) + ").",
                  "message", e.value("metrics", ordered_json::object()));
    }
}

void Scheduler::backfill(Worker& w, int64_t resume_step) {
    auto job = store_.get_job_any(w.job_id);
    if (!job || job->last_step >= resume_step) return;
    // Steps the previous worker did while no server read its stdout (the server died): the
    // trainer's own events.jsonl still holds them up to the checkpoint it resumes from.
    std::ifstream in(job_dir(w.job_id) + "/output/events.jsonl");
    std::string line;
    int64_t recovered = 0;
    while (std::getline(in, line)) {
        auto e = ordered_json::parse(line, nullptr, false);
        if (e.is_discarded() || !e.is_object() || e.value("type", "") != "train") continue;
        const int64_t step = e.value("step", int64_t{0});
        if (step <= job->last_step || step > resume_step) continue;
        job->trained_tokens += e.value("tokens", int64_t{0});
        job->last_step = step;
        ++recovered;
        add_event(w.job_id, "info",
                  "Step " + std::to_string(step) + "/" +
                      std::to_string(e.value("total_steps", int64_t{0})) +
                      ": training loss=" + fmt4(e.value("train_loss", 0.0)) +
                      " (recovered from the trainer's log)",
                  "metrics",
                  {{"step", step},
                   {"total_steps", e.value("total_steps", int64_t{0})},
                   {"train_loss", e.value("train_loss", 0.0)},
                   {"train_mean_token_accuracy", e.value("train_mean_token_accuracy", 0.0)},
                   {"learning_rate", e.value("lr", 0.0)},
                   {"tokens", e.value("tokens", int64_t{0})},
                   {"tokens_per_s", e.value("tokens_per_s", 0.0)}});
    }
    if (recovered > 0) store_.update_job(*job);
}

void Scheduler::finish(Worker& w, int wait_status) {
    auto found = store_.get_job_any(w.job_id);
    if (!found) return;
    JobRecord job = *found;
    const std::string dir = job_dir(job.id);
    ordered_json verdict = ordered_json::object();
    try {
        if (fs::exists(dir + "/worker_result.json"))
            verdict = read_ordered_json_file(dir + "/worker_result.json");
    } catch (const Error&) {
        // a torn verdict is treated as none: the exit status decides
    }
    const std::string outcome = verdict.value("outcome", "");
    job.worker_pid = 0;
    const bool exited_ok = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;

    if (exited_ok && outcome == "succeeded") {
        job.status = kJobSucceeded;
        job.fine_tuned_model = fine_tuned_model_id(job);
        job.finished_at = unix_now();
        job.estimated_finish.reset();
        run_hook("result files", job.id, [&] { if (config_.on_succeeded) config_.on_succeeded(job); });
        update_with_event(job, "info", "The job has successfully completed. New model: " + job.fine_tuned_model);
        return;
    }
    if (w.stop_reason == "cancel") {
        job.status = kJobCancelled;
        job.finished_at = unix_now();
        job.estimated_finish.reset();
        update_with_event(job, "info", "The job was cancelled.");
        return;
    }
    if (w.stop_reason == "pause" || w.stop_reason == "shutdown") {
        job.status = w.stop_reason == "pause" ? kJobPaused : kJobQueued;
        job.resume = true;
        job.estimated_finish.reset();
        update_with_event(job, "info",
                  w.stop_reason == "pause"
                      ? "The job was paused; resume continues from the last checkpoint."
                      : "The server is stopping; the job resumes from its last checkpoint at the "
                        "next start.");
        return;
    }
    // A failure: name its cause.
    std::string code = verdict.value("code", "");
    std::string message = verdict.value("message", "");
    if (WIFSIGNALED(wait_status)) {
        int sig = WTERMSIG(wait_status);
        code = "killed";
        message = "the worker was killed by " + signal_name(sig) +
                  (sig == SIGKILL ? " (possibly by the kernel's out-of-memory killer)" : "");
    } else if (code.empty()) {
        int rc = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
        std::string tail = file_tail(dir + "/worker.log");
        code = tail.find("out of memory") != std::string::npos ||
                       tail.find("bad_alloc") != std::string::npos
                   ? "oom"
                   : "internal_error";
        message = "the worker exited with status " + std::to_string(rc) +
                  (tail.empty() ? "" : ": " + tail.substr(tail.rfind('\n', tail.size() - 2) == std::string::npos
                                                              ? 0
                                                              : tail.rfind('\n', tail.size() - 2) + 1));
        while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    }
    const bool retryable = code == "killed" || code == "oom" || code == "io_error" ||
                           code == "internal_error";
    if (retryable && job.attempts < config_.max_retries && !stopping_) {
        ++job.attempts;
        job.status = kJobQueued;
        job.resume = true;
        store_.update_job(job);
        add_event(job.id, "warn",
                  "The worker failed (" + code + ": " + message + "); retrying from the last "
                  "checkpoint (retry " + std::to_string(job.attempts) + " of " +
                      std::to_string(config_.max_retries) + ").");
        woken_ = true;
        cv_.notify_all();
        return;
    }
    fail(job, code, message);
}

JobRecord Scheduler::request_stop(const std::string& project_id, const std::string& job_id,
                                  bool pause) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = store_.get_job(project_id, job_id);
    if (!found) throw_no_such("FineTuningJob", job_id, "fine_tuning_job_id");
    JobRecord job = *found;
    const std::string what = pause ? "pause" : "cancel";
    if (terminal(job.status) || (pause && job.status == kJobPaused))
        throw ServiceError(ErrorKind::conflict,
                           "Cannot " + what + " the job " + job.id + ": its status is " + job.status + ".",
                           "", "invalid_state");
    auto it = workers_.find(job.id);
    if (job.status == kJobRunning && it != workers_.end() && !it->second->done) {
        if (it->second->remote && pause)
            throw ServiceError(ErrorKind::conflict,
                               "Cannot pause the job " + job.id + ": a SageMaker training job "
                               "cannot be paused; cancel it instead.", "", "invalid_state");
        if (it->second->stop_reason.empty()) {
            it->second->stop_reason = what;
            if (it->second->remote)
                it->second->remote_stop = true;  // StopTrainingJob, sent by its monitor
            else
                ::kill(it->second->pid, SIGTERM);
            job.stop_request = what;
            store_.update_job(job);
            add_event(job.id, "info",
                      std::string(pause ? "Pausing" : "Cancelling") +
                          ": the worker writes a checkpoint and stops after its current step.");
        } else if (it->second->stop_reason == "pause" && !pause) {
            it->second->stop_reason = "cancel";  // the SIGTERM is already on its way
            job.stop_request = what;
            store_.update_job(job);
        }
        return job;
    }
    if (pause && job.status != kJobQueued && job.status != kJobValidatingFiles)
        throw ServiceError(ErrorKind::conflict,
                           "Cannot pause the job " + job.id + ": its status is " + job.status + ".",
                           "", "invalid_state");
    job.status = pause ? kJobPaused : kJobCancelled;
    if (!pause) job.finished_at = unix_now();
    update_with_event(job, "info", pause ? "The job was paused." : "The job was cancelled.");
    return job;
}

JobRecord Scheduler::resume(const std::string& project_id, const std::string& job_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = store_.get_job(project_id, job_id);
    if (!found) throw_no_such("FineTuningJob", job_id, "fine_tuning_job_id");
    JobRecord job = *found;
    if (job.status != kJobPaused)
        throw ServiceError(ErrorKind::conflict,
                           "Cannot resume the job " + job.id + ": its status is " + job.status +
                               " (only a paused job resumes).",
                           "", "invalid_state");
    // A job paused before it was validated goes back to validation.
    job.status = JobSpec::from_json(ordered_json::parse(job.spec_json)).resolved() ? kJobQueued
                                                                                 : kJobValidatingFiles;
    update_with_event(job, "info", "The job was resumed and is queued.");
    woken_ = true;
    cv_.notify_all();
    return job;
}

// ---- SageMaker jobs (llmtune.backend.type "sagemaker"; service/sagemaker_backend.h) ----------

void Scheduler::launch_sagemaker(JobRecord job, const ordered_json& backend,
                                 const std::string& model_path, const std::string& train,
                                 const std::string& valid, const ordered_json& train_config) {
    auto in = std::make_shared<SageMakerRunInput>();
    in->job_id = job.id;
    in->settings = parse_sagemaker_settings(backend);
    in->train_file = fs::canonical(train).string();
    in->validation_file = valid.empty() ? "" : fs::canonical(valid).string();
    in->base_model_id = job.model;
    in->base_model_dir = model_path;
    in->train_config = train_config;
    in->output_dir = job_dir(job.id) + "/output";
    in->work_dir = job_dir(job.id);
    sagemaker_catalog_price(in->settings.instance_type, in->price_per_hour, in->price_source);
    in->poll_interval_ms = sagemaker_poll_interval_ms();

    const bool first = !job.resume;
    job.status = kJobRunning;
    job.worker_pid = 0;
    job.stop_request.clear();
    store_.update_job(job);
    add_event(job.id, "info",
              first ? "Fine-tuning job started on SageMaker (" + in->settings.instance_type + ")."
                    : "Looking for the job's SageMaker training job to continue tracking it.");
    auto w = std::make_unique<Worker>();
    w->job_id = job.id;
    w->remote = true;
    Worker* raw = w.get();
    workers_[job.id] = std::move(w);
    raw->thread = std::thread([this, raw, in] {
        SageMakerCallbacks cb;
        cb.event = [&](const SageMakerEvent& e) {
            std::lock_guard<std::mutex> lock(mutex_);
            add_event(raw->job_id, e.level, e.message, e.type, e.data);
        };
        SageMakerOutcome out;
        try {
            out = run_sagemaker_job(*in, cb, raw->remote_stop, raw->remote_detach);
        } catch (const Error& e) {
            out.status = "failed";
            out.error_code = sagemaker_failure_code(e);
            out.error_message = e.message();
            out.error_hint = e.hint();
        } catch (const std::exception& e) {
            out.status = "failed";
            out.error_code = "internal_error";
            out.error_message = e.what();
        }
        std::lock_guard<std::mutex> lock(mutex_);
        try {
            finish_sagemaker(*raw, out);
        } catch (const std::exception& e) {
            log_event(LogLevel::error, "job outcome not recorded", {{"job", raw->job_id}, {"error", e.what()}});
        }
        raw->done = true;
        cv_.notify_all();
    });
}

void Scheduler::finish_sagemaker(Worker& w, const SageMakerOutcome& out) {
    auto found = store_.get_job_any(w.job_id);
    if (!found) return;
    JobRecord job = *found;
    if (!out.cost.is_null())
        add_event(job.id, "info",
                  "SageMaker billed " + std::to_string(out.cost.value("billable_seconds", int64_t{0})) +
                      " s on " + std::to_string(out.cost.value("instance_count", int64_t{1})) + " x " +
                      out.cost.value("instance_type", "") + ": " +
                      (out.cost["usd"].is_null() ? std::string("cost unknown (") + out.cost.value("note", "") + ")"
                                                 : "$" + fmt4(out.cost["usd"].get<double>())) + ".",
                  "message", {{"cost", out.cost}});
    if (out.status == "succeeded") {
        job.status = kJobSucceeded;
        job.fine_tuned_model = fine_tuned_model_id(job);
        job.finished_at = unix_now();
        job.estimated_finish.reset();
        update_with_event(job, "info", "The job has successfully completed. New model: " + job.fine_tuned_model);
    } else if (out.status == "cancelled") {
        job.status = kJobCancelled;
        job.finished_at = unix_now();
        update_with_event(job, "info", "The job was cancelled (SageMaker training job stopped).");
    } else if (out.status == "detached") {
        job.status = kJobQueued;
        job.resume = true;
        store_.update_job(job);
        add_event(job.id, "info",
                  "The server is stopping; the SageMaker training job keeps running and is "
                  "tracked again at the next start.");
    } else {
        // FailureReason verbatim as the job's error; the hint for common causes as an event.
        if (!out.error_hint.empty())
            add_event(job.id, "warn", "Hint: " + out.error_hint, "message",
                      {{"code", out.error_code}, {"hint", out.error_hint}});
        fail(job, out.error_code.empty() ? "sagemaker_failed" : out.error_code, out.error_message);
    }
}

}  // namespace llmtune::service
