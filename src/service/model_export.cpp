#include "service/model_export.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "service/ids.h"
#include "service/service_error.h"

namespace fs = std::filesystem;

namespace llmtune::service {

struct ModelExporter::Running {
    pid_t pid = -1;
    bool done = false;
    std::thread thread;
};

namespace {

std::string state_path(const std::string& job_dir, const std::string& format) {
    return job_dir + "/exports/" + format + ".json";
}

void save_state(const std::string& job_dir, const std::string& format, const ordered_json& s) {
    make_dirs(job_dir + "/exports");
    write_file_atomic(state_path(job_dir, format), s.dump(2) + "\n");
}

std::string log_tail(const std::string& path, size_t max = 1500) {
    std::ifstream in(path, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!all.empty() && (all.back() == '\n' || all.back() == ' ')) all.pop_back();
    return all.size() > max ? all.substr(all.size() - max) : all;
}

// Runs argv with stdout and stderr appended to `log`; registers the pid in *pid (under the
// caller's mutex) so stop() can signal it. Returns the wait status.
int run_child(const std::vector<std::string>& argv, const std::string& log, std::mutex& mutex,
              pid_t* pid_slot, const bool& stopping) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw_io(log + ": cannot open: " + errno_text(errno));
    pid_t pid;
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (stopping) {
            ::close(fd);
            throw Error(ErrorKind::cancelled, "the server is stopping");
        }
        pid = ::fork();
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            const int devnull = ::open("/dev/null", O_RDONLY);
            if (devnull >= 0) ::dup2(devnull, 0);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
        if (pid > 0) *pid_slot = pid;
    }
    ::close(fd);
    if (pid < 0) throw_io("fork failed: " + errno_text(errno));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::lock_guard<std::mutex> lock(mutex);
    *pid_slot = -1;
    return status;
}

std::string describe(int status) {
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "exit status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

}  // namespace

ModelExporter::ModelExporter(MetadataStore& store, const BlobStore& blobs, std::string binary)
    : store_(store), blobs_(blobs), binary_(std::move(binary)) {}

ModelExporter::~ModelExporter() { stop(); }

void ModelExporter::stop() {
    std::map<std::string, std::unique_ptr<Running>> all;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        for (auto& [key, r] : running_)
            if (r->pid > 0) ::kill(r->pid, SIGTERM);
    }
    // Threads take the mutex to finish: join them without holding it.
    for (;;) {
        std::unique_ptr<Running> r;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (running_.empty()) break;
            r = std::move(running_.begin()->second);
            running_.erase(running_.begin());
        }
        if (r->thread.joinable()) r->thread.join();
    }
}

ordered_json ModelExporter::get(const JobRecord& job, const std::string& format,
                                const std::string& job_dir) {
    const std::string path = state_path(job_dir, format);
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw ServiceError(ErrorKind::not_found,
                           "No " + format + " export of the model '" + job.fine_tuned_model +
                               "' was requested (POST /v1/models/{id}/export).",
                           "format", "export_not_found");
    ordered_json s = read_ordered_json_file(path);
    const std::string status = s.value("status", "");
    if (status == "queued" || status == "running") {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!running_.count(job.id + "/" + format)) {
            // Its server died during the export: nobody is finishing it.
            s["status"] = "failed";
            s["error"] = {{"code", "interrupted"},
                          {"message", "The server stopped during the export; export again."}};
            save_state(job_dir, format, s);
        }
    }
    return s;
}

ordered_json ModelExporter::start(const JobRecord& job, const std::string& format,
                                  const std::string& base_dir, const std::string& job_dir) {
    const std::string key = job.id + "/" + format;
    std::unique_lock<std::mutex> lock(mutex_);
    if (stopping_) throw Error(ErrorKind::cancelled, "the server is stopping");
    auto it = running_.find(key);
    if (it != running_.end() && !it->second->done) {
        lock.unlock();
        return get(job, format, job_dir);
    }
    if (it != running_.end()) {
        if (it->second->thread.joinable()) it->second->thread.join();
        running_.erase(it);
    }
    std::error_code ec;
    if (fs::exists(state_path(job_dir, format), ec)) {
        ordered_json s = read_ordered_json_file(state_path(job_dir, format));
        if (s.value("status", "") == "succeeded" && s["file_id"].is_string() &&
            store_.get_file(job.project_id, s["file_id"].get<std::string>()))
            return s;  // done before, and its file still exists
    }
    ordered_json s;
    s["object"] = "model.export";
    s["model"] = job.fine_tuned_model;
    s["format"] = format;
    s["status"] = "running";
    s["created_at"] = unix_now();
    s["finished_at"] = nullptr;
    s["file_id"] = nullptr;
    s["error"] = nullptr;
    save_state(job_dir, format, s);
    auto r = std::make_unique<Running>();
    Running* raw = r.get();
    running_[key] = std::move(r);
    raw->thread = std::thread([this, raw, job, format, base_dir, job_dir] {
        run(raw, job, format, base_dir, job_dir);
    });
    return s;
}

void ModelExporter::run(Running* r, JobRecord job, std::string format, std::string base_dir,
                        std::string job_dir) {
    ordered_json s = read_ordered_json_file(state_path(job_dir, format));
    const std::string dir = job_dir + "/exports/" + format;
    const std::string log = dir + "/export.log";
    try {
        std::error_code ec;
        fs::remove_all(dir, ec);
        make_dirs(dir);
        const bool full = ordered_json::parse(job.spec_json).value("method", "lora") == "full";
        const std::string output = job_dir + "/output";
        const std::string out = format == "gguf" ? dir + "/model.gguf" : dir + "/model";
        std::vector<std::string> argv = {binary_, "export", "--model", full ? output : base_dir};
        if (!full) argv.insert(argv.end(), {"--adapter", output});
        argv.insert(argv.end(), {"--format", format, "--out", out});
        if (format == "gguf") argv.insert(argv.end(), {"--name", job.fine_tuned_model});
        int status = run_child(argv, log, mutex_, &r->pid, stopping_);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            throw Error(ErrorKind::internal, "llmtune export failed (" + describe(status) + "): " +
                                                 log_tail(log));
        std::string artifact = out;
        // A directory downloads as one file: an uncompressed tar of it (safetensors do not
        // compress).
        if (format == "hf") {
            artifact = dir + "/model.tar";
            status = run_child({"tar", "-cf", artifact, "-C", dir, "model"}, log, mutex_, &r->pid,
                               stopping_);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                throw Error(ErrorKind::io, "tar failed (" + describe(status) + "): " + log_tail(log));
        }
        auto writer = blobs_.begin();
        {
            std::ifstream in(artifact, std::ios::binary);
            if (!in) throw_io(artifact + ": cannot read the export");
            std::vector<char> buf(1 << 20);
            while (in) {
                in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
                if (in.gcount() > 0) writer->write(buf.data(), static_cast<size_t>(in.gcount()));
            }
        }
        BlobInfo blob = writer->commit();
        FileRecord f;
        f.id = new_id("file-");
        f.project_id = job.project_id;
        std::string safe = job.fine_tuned_model;
        for (char& c : safe)
            if (c == ':' || c == '/') c = '_';
        f.filename = safe + (format == "gguf" ? ".gguf" : "-hf.tar");
        f.purpose = "fine-tune-export";
        f.bytes = static_cast<int64_t>(blob.size);
        f.created_at = unix_now();
        f.blob_sha256 = blob.sha256;
        f.status = kFileProcessed;
        f.status_details = (format == "gguf" ? "GGUF file of " : "Merged Hugging Face model (tar) of ") +
                           job.fine_tuned_model + ".";
        f.canonical_sha256 = blob.sha256;
        f.canonical_bytes = f.bytes;
        store_.insert_file(f);
        // The blob holds it now; the copy under exports/ would only double the disk used.
        fs::remove_all(out, ec);
        if (artifact != out) fs::remove(artifact, ec);
        s["status"] = "succeeded";
        s["file_id"] = f.id;
        s["bytes"] = f.bytes;
        s["sha256"] = blob.sha256;
    } catch (const std::exception& e) {
        s["status"] = "failed";
        s["error"] = {{"code", "export_failed"}, {"message", e.what()}};
    }
    s["finished_at"] = unix_now();
    try {
        save_state(job_dir, format, s);
    } catch (const std::exception&) {
        // the state stays "running" on disk; get() reports it failed once this thread is gone
    }
    std::lock_guard<std::mutex> lock(mutex_);
    r->done = true;
}

}  // namespace llmtune::service
