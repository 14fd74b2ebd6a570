#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>

#include "common/atomic_file.h"
#include "common/error.h"
#include "model/hf_export.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/model_config.h"
#include "model/peft_adapter.h"
#include "model/safetensors.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/data_order.h"
#include "train/file_hash.h"
#include "train/lr_schedule.h"
#include "train/manifest.h"
#include "train/metrics_log.h"
#include "train/train_data.h"
#include "train/train_step.h"

namespace fs = std::filesystem;

namespace llmtune::train {

model::LoraConfig lora_config_of(const TrainConfig& c) {
    model::LoraConfig l;
    l.r = c.lora.r;
    l.alpha = c.lora.alpha;
    l.dropout = c.lora.dropout;
    l.use_rslora = c.lora.use_rslora;
    l.target_modules.clear();
    for (const auto& t : c.lora.target_modules)
        l.target_modules.push_back(  // the short forms q, k, ..., down name the *_proj modules
            t == "all-linear" || t.find("_proj") != std::string::npos ? t : t + "_proj");
    l.dtype = torch::kFloat32;  // adapters stay f32 on a bf16 base
    return l;
}

namespace {

using Clock = std::chrono::steady_clock;

// The trained weights, by name, that the optimizer updates.
model::NamedTensors trainable_parameters(model::CausalLM& lm, bool lora) {
    if (lora) return model::lora_parameters(lm);
    model::NamedTensors out;
    for (const auto& p : lm->named_parameters(/*recurse=*/true))
        if (p.value().requires_grad()) out.emplace_back(p.key(), p.value());
    return out;
}

// A run already lives in `dir` when it has checkpoints or results. Events alone (a run that
// failed before its first checkpoint) are not worth keeping: a fresh start replaces them.
bool holds_run(const std::string& dir) {
    return fs::exists(dir + "/manifest.json") || !list_checkpoints(dir + "/checkpoints").empty();
}

CheckpointRef find_resume_checkpoint(const std::string& checkpoints_dir,
                                     const std::string& wanted) {
    if (wanted.empty()) {
        auto latest = latest_checkpoint(checkpoints_dir);
        if (!latest)
            throw Error(ErrorKind::not_found, "no checkpoint to resume from in " + checkpoints_dir,
                        "run without --resume to start training");
        return *latest;
    }
    std::string dir = wanted;
    if (wanted.size() <= 18 && wanted.find_first_not_of("0123456789") == std::string::npos)
        dir = checkpoints_dir + "/" + checkpoint_name(std::stoll(wanted));
    else if (wanted.rfind("step-", 0) == 0 && wanted.find('/') == std::string::npos)
        dir = checkpoints_dir + "/" + wanted;
    if (!fs::exists(dir + "/trainer_state.json"))
        throw Error(ErrorKind::not_found, "no complete checkpoint at " + dir,
                    "pass a step-N directory under " + checkpoints_dir + " or omit the name");
    CheckpointRef ref;
    ref.dir = dir;
    ref.step = read_trainer_state(dir).step;
    return ref;
}

void copy_file_atomic(const std::string& from, const std::string& to) {
    write_file_atomic(to, read_text_file(from));
}

// Full fine-tuning's result: a Hugging Face directory the loader, transformers and
// `llmtune export` read. The weights are f32 (what was trained); config.json says so. Unlike
// model::export_hf it writes into the run's existing output directory, beside its other files,
// but it copies the same files from the base.
std::vector<std::string> write_full_model(model::CausalLM& lm, const std::string& base_dir,
                                          const std::string& out_dir) {
    model::write_checkpoint(out_dir, model::model_state(lm));
    ordered_json cfg = read_ordered_json_file(base_dir + "/config.json");
    cfg["torch_dtype"] = "float32";
    if (cfg.contains("dtype")) cfg["dtype"] = "float32";  // newer transformers' key
    write_json_file(out_dir + "/config.json", cfg);
    std::vector<std::string> files = {"config.json"};
    for (const auto& e : fs::directory_iterator(out_dir))
        if (e.path().extension() == ".safetensors" ||
            e.path().filename() == "model.safetensors.index.json")
            files.push_back(e.path().filename().string());
    for (const auto& name : model::hf_export_copied_files()) {
        const std::string src = base_dir + "/" + name;
        if (fs::exists(src)) {
            copy_file_atomic(src, out_dir + "/" + name);
            files.push_back(name);
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::string fmt_loss(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

class Trainer {
  public:
    Trainer(const TrainConfig& config, const ResumeOptions& resume, const TrainerHooks& hooks)
        : config_(config),
          resume_(resume),
          hooks_(hooks),
          sync_(hooks.sync ? hooks.sync : &local_sync_) {}

    TrainResult run();

  private:
    void prepare();
    void restore();
    void log(ordered_json event);
    std::string save();
    void evaluate_now();
    [[noreturn]] void fail_non_finite(const StepOutput& out);
    void agree_across_ranks();
    std::vector<int64_t> rank_slice(const std::vector<int64_t>& global_batch) const;

    const TrainConfig& config_;
    ResumeOptions resume_;
    TrainerHooks hooks_;
    LocalSync local_sync_;
    GradientSync* sync_;
    // Data parallelism (gradient_sync.h): this rank takes rows [rank*b, (rank+1)*b) of each
    // global batch of b*world rows; rank 0 alone writes events, checkpoints and artifacts.
    const int rank_ = sync_->rank();
    const int world_ = sync_->world_size();

    const std::string out_dir_ = config_.output.dir;
    const std::string ckpt_dir_ = config_.output.dir + "/checkpoints";
    bool lora_ = config_.method() == TrainMethod::lora;
    model::LoraConfig lora_cfg_;
    model::ModelConfig model_cfg_;
    ModelHash model_hash_;
    PreparedData data_;
    std::vector<std::vector<int64_t>> train_rows_, valid_rows_;
    BatchLayout layout_;
    std::optional<model::CausalLM> lm_;
    std::unique_ptr<AdamW> optimizer_;
    std::unique_ptr<LrSchedule> schedule_;
    std::unique_ptr<DataOrder> order_;
    std::unique_ptr<MetricsLog> events_;
    TrainerState state_;
    std::string last_checkpoint_;
    int64_t last_saved_step_ = -1, last_eval_step_ = -1;
    ordered_json final_metrics_ = ordered_json::object();
};

void Trainer::log(ordered_json event) {
    if (rank_ != 0) return;  // one log per job, written by rank 0
    events_->write(event);
    if (hooks_.on_event) hooks_.on_event(event);
}

void Trainer::prepare() {
    validate_train_config(config_);
    if (!fs::is_directory(config_.model.path))
        throw Error(ErrorKind::not_found,
                    "model.path " + config_.model.path + " is not a directory",
                    "point model.path at a Hugging Face model directory");
    if (!resume_.resume && holds_run(out_dir_))
        throw Error(ErrorKind::conflict, "output.dir " + out_dir_ + " already holds a training run",
                    "pass --resume to continue it, or choose another output.dir");
    make_dirs(out_dir_);
    if (!resume_.resume && rank_ == 0) fs::remove(out_dir_ + "/events.jsonl");

    data_ = prepare_training_data(config_);
    train_rows_ = plan_rows(data_.train, config_.data.packing, config_.data.max_seq_len);
    valid_rows_ = plan_rows(data_.validation, config_.data.packing, config_.data.max_seq_len);

    model_cfg_ = model::load_model_config(config_.model.path);
    model::LoadOptions lo;
    lo.dtype = model::parse_dtype(config_.model.dtype);
    lo.device = model::parse_device(config_.model.device);
    model_hash_ = hash_model_weights(config_.model.path);

    // The default CPU generator drives dropout; seed it before anything draws from it.
    torch::manual_seed(config_.training.seed);
    lm_ = model::load_causal_lm(config_.model.path, lo);
    if (lora_) {
        lora_cfg_ = lora_config_of(config_);
        model::apply_lora(*lm_, lora_cfg_, config_.training.seed);
    } else {
        for (auto& p : (*lm_)->parameters())
            p.set_requires_grad(true);
    }
    (*lm_)->set_gradient_checkpointing(config_.training.gradient_checkpointing);

    layout_.packing = config_.data.packing;
    layout_.max_seq_len = config_.data.max_seq_len;
    layout_.pad_id = static_cast<int32_t>(model_cfg_.pad_token_id.value_or(
        model_cfg_.eos_token_ids.empty() ? 0 : model_cfg_.eos_token_ids[0]));
    layout_.bias_dtype = lo.dtype;
    layout_.sliding_window = model_cfg_.sliding_window;
    layout_.device = lo.device;

    const auto& t = config_.training;
    AdamWConfig ac;
    ac.lr = t.learning_rate;
    ac.beta1 = t.adam_beta1;
    ac.beta2 = t.adam_beta2;
    ac.eps = t.adam_epsilon;
    ac.weight_decay = t.weight_decay;
    optimizer_ = std::make_unique<AdamW>(trainable_parameters(*lm_, lora_), ac);

    // The data order is over global batches, so W ranks of batch b visit the rows in the order
    // one process of batch W*b does.
    order_ = std::make_unique<DataOrder>(static_cast<int64_t>(train_rows_.size()),
                                         t.batch_size * world_, t.seed);
    const int64_t steps_per_epoch =
        (order_->batches_per_epoch() + t.gradient_accumulation_steps - 1) /
        t.gradient_accumulation_steps;
    state_.total_steps = t.max_steps > 0 ? t.max_steps : t.epochs * steps_per_epoch;
    LrScheduleConfig sc;
    sc.kind = parse_lr_schedule_kind(t.lr_scheduler_type);
    sc.warmup_steps = t.warmup_steps;
    sc.warmup_ratio = t.warmup_ratio;
    sc.min_lr_ratio = t.min_lr_ratio;
    schedule_ = std::make_unique<LrSchedule>(sc, state_.total_steps);

    state_.config = config_.resume_relevant_json();
    // A checkpoint records the global batch, so a run may resume on another world size as
    // long as ranks x batch_size stays the same.
    if (world_ > 1) state_.config["training"]["batch_size"] = t.batch_size * world_;
    state_.config_hash = sha256_text(state_.config.dump());
    state_.model_sha256 = model_hash_.combined;
    state_.datasets = {{"train", ordered_json::array()}, {"validation", nullptr}};
    for (const auto& f : data_.files) {
        if (f.role == "train")
            state_.datasets["train"].push_back(f.sha256);
        else
            state_.datasets["validation"] = f.sha256;
    }
}

void Trainer::restore() {
    CheckpointRef ref;
    if (world_ == 1) {
        ref = find_resume_checkpoint(ckpt_dir_, resume_.checkpoint);
    } else {
        // Rank 0 decides (the latest checkpoint it sees) and tells the others the step.
        int64_t step = -1;
        std::optional<Error> failed;
        if (rank_ == 0) {
            try {
                ref = find_resume_checkpoint(ckpt_dir_, resume_.checkpoint);
                step = ref.step;
            } catch (const Error& e) {
                failed = e;
            }
        }
        torch::Tensor t = torch::full({1}, step, torch::kInt64);
        sync_->broadcast_from_rank0(t);
        step = t.item<int64_t>();
        if (failed) throw *failed;
        if (step < 0)
            throw Error(ErrorKind::not_found,
                        "rank " + std::to_string(rank_) +
                            ": rank 0 found no checkpoint to resume from (its error says why)",
                        "see rank 0's error");
        if (rank_ != 0) {
            ref.step = step;
            ref.dir = resume_.checkpoint.empty()
                          ? ckpt_dir_ + "/" + checkpoint_name(step)
                          : find_resume_checkpoint(ckpt_dir_, resume_.checkpoint).dir;
            if (!fs::exists(ref.dir + "/trainer_state.json") ||
                read_trainer_state(ref.dir).step != step)
                throw Error(ErrorKind::not_found,
                            "rank " + std::to_string(rank_) + " cannot read rank 0's checkpoint " +
                                ref.dir + " (step " + std::to_string(step) + ")",
                            "output.dir must be on storage that every rank shares");
        }
    }
    TrainerState saved = read_trainer_state(ref.dir);
    std::vector<std::string> diffs = json_differences(saved.config, state_.config);
    if (saved.model_sha256 != state_.model_sha256)
        diffs.push_back("model weights: sha256 " + saved.model_sha256.substr(0, 12) + "... -> " +
                        state_.model_sha256.substr(0, 12) + "...");
    for (const auto& d : json_differences(saved.datasets, state_.datasets, "dataset sha256"))
        diffs.push_back(d);
    if (!diffs.empty()) {
        std::string msg =
            "cannot resume from " + ref.dir + ": the run's settings differ from the checkpoint's:";
        for (const auto& d : diffs)
            msg += "\n  " + d;
        throw Error(ErrorKind::conflict, msg,
                    "restore the original settings and data, or start a new run in another "
                    "output.dir");
    }
    CheckpointModel cm{&*lm_, lora_, lora_cfg_, config_.model.path, optimizer_.get()};
    load_checkpoint_weights(ref.dir, cm);
    if (optimizer_->step_count() != saved.step)
        throw_invalid(ref.dir + ": the optimizer state has " +
                          std::to_string(optimizer_->step_count()) +
                          " steps but trainer_state.json says " + std::to_string(saved.step),
                      "the checkpoint is damaged; resume from an earlier one");
    order_->seek(saved.position);
    saved.config = state_.config;
    saved.total_steps = state_.total_steps;
    state_ = saved;
    last_checkpoint_ = ref.dir;
    last_saved_step_ = saved.step;
}

std::string Trainer::save() {
    std::string dir = ckpt_dir_ + "/" + checkpoint_name(state_.step);
    if (rank_ == 0) {
        CheckpointModel cm{&*lm_, lora_, lora_cfg_, config_.model.path, optimizer_.get()};
        dir = save_checkpoint(ckpt_dir_, state_, cm);
        if (config_.output.save_total_limit > 0)
            prune_checkpoints(ckpt_dir_, config_.output.save_total_limit);
    }
    sync_->barrier();  // the other ranks wait until the checkpoint is complete
    last_checkpoint_ = dir;
    last_saved_step_ = state_.step;
    log({{"type", "checkpoint"}, {"step", state_.step}, {"path", dir}});
    return dir;
}

void Trainer::evaluate_now() {
    if (data_.validation.empty()) return;
    std::vector<Batch> batches;
    const int64_t bs = config_.training.batch_size * world_;  // global batches, sliced per rank
    for (size_t begin = 0; begin < valid_rows_.size(); begin += static_cast<size_t>(bs)) {
        std::vector<int64_t> ids;
        for (size_t i = begin; i < std::min(valid_rows_.size(), begin + static_cast<size_t>(bs));
             ++i)
            ids.push_back(static_cast<int64_t>(i));
        ids = rank_slice(ids);
        if (!ids.empty())
            batches.push_back(build_batch(data_.validation, valid_rows_, ids, layout_));
    }
    const EvalOutput e = evaluate(*lm_, batches, *sync_);
    last_eval_step_ = state_.step;
    final_metrics_["valid_loss"] = e.loss;
    final_metrics_["valid_mean_token_accuracy"] = e.accuracy;
    log({{"type", "eval"},
         {"step", state_.step},
         {"total_steps", state_.total_steps},
         {"valid_loss", e.loss},
         {"valid_mean_token_accuracy", e.accuracy},
         {"valid_tokens", e.target_tokens}});
    if (!std::isfinite(e.loss)) return;  // never counts as an improvement
    const double delta = config_.eval.early_stopping_min_delta;
    if (std::isnan(state_.best_valid_loss) || e.loss < state_.best_valid_loss - delta) {
        state_.best_valid_loss = e.loss;
        state_.evals_without_improvement = 0;
    } else {
        ++state_.evals_without_improvement;
    }
}

void Trainer::fail_non_finite(const StepOutput& out) {
    const int64_t step = state_.step + 1;
    const std::string what = !std::isfinite(out.loss)
                                 ? "the loss is " + fmt_loss(out.loss)
                                 : "the gradient norm is " + fmt_loss(out.grad_norm);
    const std::string ckpt = last_checkpoint_.empty() ? "none" : last_checkpoint_;
    log({{"type", "error"},
         {"step", step},
         {"message", "non-finite training: " + what},
         {"last_checkpoint",
          last_checkpoint_.empty() ? ordered_json(nullptr) : ordered_json(last_checkpoint_)}});
    throw_invalid("training diverged at step " + std::to_string(step) + ": " + what +
                      " (learning rate " + fmt_loss(out.lr) + "); last good checkpoint: " + ckpt,
                  "lower training.learning_rate or set training.max_grad_norm; " +
                      std::string(last_checkpoint_.empty()
                                      ? "no checkpoint was written yet (set output.save_steps)"
                                      : "resume from the checkpoint with --resume " + ckpt));
}

std::vector<int64_t> Trainer::rank_slice(const std::vector<int64_t>& global_batch) const {
    if (world_ == 1) return global_batch;
    const auto b = static_cast<size_t>(config_.training.batch_size);
    const size_t begin = std::min(global_batch.size(), static_cast<size_t>(rank_) * b);
    const size_t end = std::min(global_batch.size(), begin + b);
    return {global_batch.begin() + static_cast<std::ptrdiff_t>(begin),
            global_batch.begin() + static_cast<std::ptrdiff_t>(end)};
}

// Every rank must train the same run from the same weights: rank 0's settings, model and data
// hashes and step are compared with each rank's, then rank 0's trained weights are copied to
// all (as DDP does at construction), so the replicas start bit-identical.
void Trainer::agree_across_ranks() {
    const std::string mine = sha256_text(state_.config.dump() + "\n" + state_.model_sha256 +
                                         "\n" + state_.datasets.dump() + "\n" +
                                         std::to_string(state_.step));
    torch::Tensor t = torch::from_blob(const_cast<char*>(mine.data()),
                                       {static_cast<int64_t>(mine.size())}, torch::kUInt8)
                          .clone();
    sync_->broadcast_from_rank0(t);
    if (std::string(reinterpret_cast<const char*>(t.data_ptr<uint8_t>()), mine.size()) != mine)
        throw Error(ErrorKind::invalid_input,
                    "rank " + std::to_string(rank_) +
                        "'s training settings, model, data or resume step differ from rank 0's",
                    "start every rank with the same config, model and data files");
    for (const auto& [name, p] : optimizer_->params()) {
        torch::Tensor data = p.detach();
        sync_->broadcast_from_rank0(data);
    }
}

TrainResult Trainer::run() {
    prepare();
    if (resume_.resume) restore();
    if (world_ > 1) agree_across_ranks();
    if (rank_ == 0)
        events_ = std::make_unique<MetricsLog>(
            out_dir_ + "/events.jsonl",
            resume_.resume ? std::optional<int64_t>(state_.step) : std::nullopt);

    const auto& t = config_.training;
    log({{"type", resume_.resume ? "resume" : "start"},
         {"step", state_.step},
         {"total_steps", state_.total_steps},
         {"method", t.method},
         {"train_examples", data_.train.size()},
         {"train_rows", train_rows_.size()},
         {"valid_examples", data_.validation.size()},
         {"truncated_examples", data_.truncated_examples},
         {"truncated_tokens", data_.truncated_tokens},
         {"dropped_examples_without_targets", data_.dropped_no_targets},
         {"trainable_parameters",
          [&] {
              int64_t n = 0;
              for (const auto& [name, p] : optimizer_->params())
                  n += p.numel();
              return n;
          }()},
         {"checkpoint", resume_.resume ? ordered_json(last_checkpoint_) : ordered_json(nullptr)}});

    StepRunner runner(*lm_, *optimizer_, *schedule_, t.max_grad_norm, *sync_);
    const auto session_start = Clock::now();
    const double elapsed_before = state_.elapsed_s;
    const int64_t first_step = state_.step;
    std::string stop_reason = "completed";
    const bool have_valid = !data_.validation.empty();
    try {
        while (state_.step < state_.total_steps) {
            bool stop = hooks_.stop && hooks_.stop->load();
            // Every rank stops at the same step, whichever saw the signal.
            if (world_ > 1) stop = sync_->all_reduce_sum(stop ? 1.0 : 0.0) > 0;
            if (stop) {
                const std::string dir = last_saved_step_ == state_.step ? last_checkpoint_ : save();
                log({{"type", "interrupted"}, {"step", state_.step}, {"checkpoint", dir}});
                throw Error(ErrorKind::cancelled,
                            "training stopped on request at step " + std::to_string(state_.step) +
                                " of " + std::to_string(state_.total_steps) +
                                "; checkpoint: " + dir,
                            "continue with: llmtune train CONFIG --resume");
            }
            const auto step_start = Clock::now();
            std::vector<Batch> micro;
            for (int64_t k = 0; k < t.gradient_accumulation_steps; ++k) {
                const std::vector<int64_t> rows = rank_slice(order_->next_batch());
                if (!rows.empty())
                    micro.push_back(build_batch(data_.train, train_rows_, rows, layout_));
                if (order_->position().batch == 0) break;  // a step never spans two epochs
            }
            const StepOutput out = runner.step(micro);
            if (!out.finite) fail_non_finite(out);
            ++state_.step;
            state_.tokens_seen += out.tokens;
            const double step_s = std::chrono::duration<double>(Clock::now() - step_start).count();
            const double session_s =
                std::chrono::duration<double>(Clock::now() - session_start).count();
            state_.elapsed_s = elapsed_before + session_s;
            const double per_step = session_s / static_cast<double>(state_.step - first_step);
            final_metrics_["train_loss"] = out.loss;
            final_metrics_["train_mean_token_accuracy"] = out.accuracy;
            const DataPosition& pos = order_->position();
            log({{"type", "train"},
                 {"step", state_.step},
                 {"total_steps", state_.total_steps},
                 {"epoch", static_cast<double>(pos.epoch) +
                               static_cast<double>(pos.batch) /
                                   static_cast<double>(order_->batches_per_epoch())},
                 {"train_loss", out.loss},
                 {"train_mean_token_accuracy", out.accuracy},
                 {"lr", out.lr},
                 {"grad_norm", out.grad_norm},
                 {"tokens", out.tokens},
                 {"target_tokens", out.target_tokens},
                 {"tokens_per_s", step_s > 0 ? static_cast<double>(out.tokens) / step_s : 0.0},
                 {"elapsed_s", state_.elapsed_s},
                 {"eta_s", per_step * static_cast<double>(state_.total_steps - state_.step)}});
            state_.position = pos;

            bool stop_early = false;
            if (have_valid && config_.eval.eval_steps > 0 &&
                state_.step % config_.eval.eval_steps == 0) {
                evaluate_now();
                stop_early =
                    config_.eval.early_stopping_patience > 0 &&
                    state_.evals_without_improvement >= config_.eval.early_stopping_patience;
            }
            if (config_.output.save_steps > 0 && state_.step % config_.output.save_steps == 0 &&
                state_.step < state_.total_steps)
                save();
            if (stop_early) {
                stop_reason = "early_stopping";
                log({{"type", "early_stop"},
                     {"step", state_.step},
                     {"best_valid_loss", state_.best_valid_loss},
                     {"evals_without_improvement", state_.evals_without_improvement}});
                break;
            }
        }
        if (have_valid && last_eval_step_ != state_.step) evaluate_now();
        if (last_saved_step_ != state_.step) save();

        // Final artifacts, by rank 0; the others wait for them at the barrier below.
        std::vector<std::string> artifacts;
        if (rank_ != 0) {
        } else if (lora_) {
            model::save_peft_adapter(out_dir_, *lm_, lora_cfg_, config_.model.path);
            artifacts = {"adapter_config.json", "adapter_model.safetensors"};
        } else {
            artifacts = write_full_model(*lm_, config_.model.path, out_dir_);
        }
        artifacts.push_back("manifest.json");
        ManifestInputs mi;
        mi.config = &config_;
        mi.model_type = model::architecture_model_type(model_cfg_.arch);
        mi.model_hash = model_hash_;
        mi.datasets = data_.files;
        mi.artifacts = artifacts;
        mi.training = {{"steps", state_.step},
                       {"total_steps", state_.total_steps},
                       {"epochs", static_cast<double>(state_.position.epoch) +
                                      static_cast<double>(state_.position.batch) /
                                          static_cast<double>(order_->batches_per_epoch())},
                       {"train_examples", data_.train.size()},
                       {"valid_examples", data_.validation.size()},
                       {"truncated_examples", data_.truncated_examples},
                       {"tokens_seen", state_.tokens_seen},
                       {"elapsed_s", state_.elapsed_s},
                       {"stop_reason", stop_reason},
                       {"final_checkpoint", last_checkpoint_}};
        if (world_ > 1) mi.training["world_size"] = world_;
        mi.final_metrics = final_metrics_;
        mi.chat_template = data_.chat_template;
        if (rank_ == 0) write_manifest(out_dir_, mi);
        log({{"type", "end"},
             {"step", state_.step},
             {"total_steps", state_.total_steps},
             {"stop_reason", stop_reason},
             {"metrics", final_metrics_},
             {"output", out_dir_}});
        sync_->barrier();
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::cancelled && e.message().rfind("training diverged", 0) != 0) {
            try {
                log({{"type", "error"},
                     {"step", state_.step},
                     {"message", e.message()},
                     {"last_checkpoint", last_checkpoint_.empty()
                                             ? ordered_json(nullptr)
                                             : ordered_json(last_checkpoint_)}});
            } catch (...) {
                // The log itself may be what failed (a full disk); the error still propagates.
            }
        }
        throw;
    }

    TrainResult r;
    r.steps = state_.step;
    r.total_steps = state_.total_steps;
    r.stop_reason = stop_reason;
    r.final_metrics = final_metrics_;
    r.output_dir = out_dir_;
    r.last_checkpoint = last_checkpoint_;
    return r;
}

}  // namespace

TrainResult run_training(const TrainConfig& config, const ResumeOptions& resume,
                         const TrainerHooks& hooks) {
    Trainer trainer(config, resume, hooks);
    return trainer.run();
}

}  // namespace llmtune::train
