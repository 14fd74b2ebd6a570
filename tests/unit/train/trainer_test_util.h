// Helpers for the trainer tests: a tiny Llama with the Llama 2 tokenizer (32k vocabulary, the
// smallest of the npm tokenizers), chat data, and configs that finish in seconds.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "model/model_init.h"
#include "model/safetensors.h"
#include "support/test_support.h"
#include "train/train_config.h"

namespace llmtune::train::testing {

// A tiny random Llama in `dir`. `norm_scale` multiplies the final RMSNorm weight: a random
// base's frozen lm_head (std 0.02) caps its logits at about +-4, so LoRA alone cannot push a
// loss below ~6.6 nats on a 32k vocabulary; a sharper base makes memorization possible.
inline void make_tiny_model(const std::string& dir, double norm_scale = 1.0, int layers = 4) {
    model::InitOptions o;
    o.arch = model::Architecture::llama;
    o.preset = "tiny";
    o.tokenizer = test::npm_tokenizer_dir("llama2");
    o.out_dir = dir;
    o.seed = 11;
    model::init_model_dir(o);
    if (norm_scale != 1.0 || layers != 4) {
        const std::string path = dir + "/model.safetensors";
        model::NamedTensors tensors;
        {
            auto f = model::SafetensorsFile::open(path);
            for (const auto& info : f->header().tensors) {
                // Drop layers past `layers` (config.json is rewritten to match).
                if (info.name.rfind("model.layers.", 0) == 0 &&
                    std::stoi(info.name.substr(13)) >= layers)
                    continue;
                auto t = f->tensor(info.name).clone();
                if (info.name == "model.norm.weight") t.mul_(norm_scale);
                tensors.emplace_back(info.name, t);
            }
        }
        model::write_safetensors(path, tensors);
        auto cfg = read_ordered_json_file(dir + "/config.json");
        cfg["num_hidden_layers"] = layers;
        write_json_file(dir + "/config.json", cfg);
    }
}

inline std::string chat_line(const std::string& user, const std::string& assistant,
                             bool weight0 = false) {
    ordered_json a = {{"role", "assistant"}, {"content", assistant}};
    if (weight0) a["weight"] = 0;
    return ordered_json{{"messages", {{{"role", "user"}, {"content", user}}, a}}}.dump() + "\n";
}

// `n` short distinct chats.
inline std::string chat_data(int n) {
    std::string out;
    for (int i = 0; i < n; ++i)
        out += chat_line("Item " + std::to_string(i) + "?", "Value " + std::to_string(i * 7 % 13));
    return out;
}

// A config for fast runs on `model_dir`; callers adjust fields.
inline TrainConfig fast_config(const std::string& model_dir, const std::string& train_file,
                               const std::string& out_dir) {
    TrainConfig c;
    c.model.path = model_dir;
    c.data.train = {train_file};
    c.data.max_seq_len = 64;
    c.output.dir = out_dir;
    c.lora.r = 4;
    c.lora.alpha = 8;
    c.training.max_steps = 6;
    c.training.batch_size = 2;
    c.training.learning_rate = 1e-3;
    c.training.seed = 5;
    return c;
}

// The config as YAML text (JSON is valid YAML), for runs through the binary.
inline std::string config_text(const TrainConfig& c) {
    return c.to_json().dump(2);
}

// train_loss by step from events.jsonl (the last event of each step wins).
inline std::map<int64_t, double> losses_by_step(const std::string& events_path) {
    std::map<int64_t, double> out;
    for (const auto& line : [&] {
             std::vector<std::string> lines;
             std::string text = test::read_file(events_path), cur;
             for (char ch : text) {
                 if (ch == '\n') {
                     lines.push_back(cur);
                     cur.clear();
                 } else {
                     cur += ch;
                 }
             }
             return lines;
         }()) {
        json e = json::parse(line, nullptr, false);
        if (e.is_discarded() || e.value("type", "") != "train") continue;
        out[e["step"].get<int64_t>()] = e["train_loss"].get<double>();
    }
    return out;
}

// Largest relative difference between two sets of same-named tensors.
inline double max_rel_diff(const std::string& file_a, const std::string& file_b) {
    auto a = model::SafetensorsFile::open(file_a);
    auto b = model::SafetensorsFile::open(file_b);
    EXPECT_EQ(a->header().tensors.size(), b->header().tensors.size());
    double worst = 0;
    for (const auto& info : a->header().tensors) {
        if (!b->contains(info.name)) {
            ADD_FAILURE() << info.name << " missing from " << file_b;
            return 1e9;
        }
        auto ta = a->tensor(info.name).to(torch::kFloat64);
        auto tb = b->tensor(info.name).to(torch::kFloat64);
        const double scale = std::max(ta.abs().max().item<double>(), 1e-12);
        worst = std::max(worst, (ta - tb).abs().max().item<double>() / scale);
    }
    return worst;
}

}  // namespace llmtune::train::testing
