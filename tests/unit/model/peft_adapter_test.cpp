// PEFT adapter directories: the files save_peft_adapter writes, what load_peft_adapter
// accepts and rejects. PEFT key names and config fields are spelled out here, never taken from
// the code under test.
//
// Legend: r rank, in / out a projection's features.
#include "model/peft_adapter.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "common/json_file.h"
#include "model/safetensors.h"
#include "support/test_support.h"
#include "unit/model/lora_test_helpers.h"

using namespace llmtune;
using namespace llmtune::model;
using namespace llmtune::model::lora_test;

TEST(Peft, SavedKeysShapesAndConfigAreTheOnesPeftWrites) {
    auto lm = make(tiny());
    LoraConfig cfg;
    cfg.r = 4;
    cfg.alpha = 16;
    cfg.dropout = 0.05;
    cfg.target_modules = {"v_proj", "q_proj", "gate_proj"};
    apply_lora(lm, cfg, 1);
    test::TempDir tmp;
    save_peft_adapter(tmp.file("adapter"), lm, cfg, "Qwen/Qwen2.5-0.5B");

    auto file = SafetensorsFile::open(tmp.file("adapter/adapter_model.safetensors"));
    std::set<std::string> got;
    for (const auto& t : file->header().tensors) {
        got.insert(t.name);
        EXPECT_EQ(t.dtype, StDtype::F32) << t.name;
    }
    std::set<std::string> want;
    for (int l = 0; l < 2; ++l) {
        const std::string L = "base_model.model.model.layers." + std::to_string(l);
        for (const auto& m :
             {L + ".self_attn.q_proj", L + ".self_attn.v_proj", L + ".mlp.gate_proj"})
            for (const auto& ab : {".lora_A.weight", ".lora_B.weight"})
                want.insert(m + ab);
    }
    EXPECT_EQ(got, want);
    // A (r, in), B (out, r); q_proj 192 -> 192, v_proj 192 -> 64 (2 kv heads), gate 192 -> 512.
    auto shape = [&](const std::string& k) { return file->header().find(k)->shape; };
    using V = std::vector<int64_t>;
    EXPECT_EQ(shape("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"), V({4, 192}));
    EXPECT_EQ(shape("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"), V({64, 4}));
    EXPECT_EQ(shape("base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight"), V({512, 4}));
    EXPECT_EQ(file->header().metadata.at("format"), "pt");

    auto j = read_json_file(tmp.file("adapter/adapter_config.json"));
    EXPECT_EQ(j["peft_type"], "LORA");
    EXPECT_EQ(j["task_type"], "CAUSAL_LM");
    EXPECT_EQ(j["r"], 4);
    EXPECT_EQ(j["lora_alpha"], 16);
    EXPECT_TRUE(j["lora_alpha"].is_number_integer());
    EXPECT_DOUBLE_EQ(j["lora_dropout"].get<double>(), 0.05);
    EXPECT_EQ(j["use_rslora"], false);
    auto targets = j["target_modules"].get<std::vector<std::string>>();
    EXPECT_EQ(std::set<std::string>(targets.begin(), targets.end()),
              (std::set<std::string>{"q_proj", "v_proj", "gate_proj"}));
    EXPECT_EQ(j["bias"], "none");
    EXPECT_EQ(j["base_model_name_or_path"], "Qwen/Qwen2.5-0.5B");
    EXPECT_EQ(j["fan_in_fan_out"], false);
    EXPECT_EQ(j["inference_mode"], true);
    EXPECT_EQ(j["init_lora_weights"], true);
    EXPECT_TRUE(j["modules_to_save"].is_null());
    EXPECT_TRUE(j["revision"].is_null());
    EXPECT_EQ(j["use_dora"], false);
    EXPECT_TRUE(j["rank_pattern"].is_object() && j["rank_pattern"].empty());
    EXPECT_TRUE(j["alpha_pattern"].is_object() && j["alpha_pattern"].empty());
    EXPECT_TRUE(j["layers_to_transform"].is_null());
    // Keys sorted, as PEFT's json.dumps(sort_keys=True).
    auto text = test::read_file(tmp.file("adapter/adapter_config.json"));
    EXPECT_LT(text.find("\"alpha_pattern\""), text.find("\"bias\""));
    EXPECT_LT(text.find("\"task_type\""), text.find("\"use_rslora\""));
}

TEST(Peft, SaveLoadRoundTripIsBitIdentical) {
    for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
        auto lm = make(tiny(), dtype);
        LoraConfig cfg;
        cfg.r = 6;
        cfg.alpha = 7.5;
        cfg.use_rslora = true;
        cfg.target_modules = {"all-linear"};
        apply_lora(lm, cfg, 9);
        randomize_b(lm);
        test::TempDir tmp;
        save_peft_adapter(tmp.path(), lm, cfg, "");

        auto fresh = make(tiny(), dtype);
        LoraConfig loaded = load_peft_adapter(tmp.path(), fresh);
        EXPECT_EQ(loaded.r, 6);
        EXPECT_DOUBLE_EQ(loaded.alpha, 7.5);
        EXPECT_TRUE(loaded.use_rslora);
        EXPECT_EQ(loaded.resolved_targets(), kAll);
        auto a = lora_parameters(lm), b = lora_parameters(fresh);
        ASSERT_EQ(names_of(a), names_of(b));
        auto bp = fresh->named_parameters(true);
        for (const auto& [name, t] : a)
            EXPECT_TRUE(torch::equal(t, bp[name])) << name;
        EXPECT_TRUE(torch::equal(logits(lm, ids(7)), logits(fresh, ids(7))));
        EXPECT_EQ(bp["model.layers.0.mlp.up_proj.weight"].requires_grad(), false);
    }
}

TEST(Peft, LoadsADirectoryLaidOutAsPeftWritesIt) {
    // Written here by hand, the way PEFT's save_pretrained lays it out (keys of a recent PEFT,
    // target_modules in set order), independently of save_peft_adapter.
    test::TempDir tmp;
    test::write_file(tmp.file("adapter_config.json"), R"({
  "alpha_pattern": {}, "auto_mapping": null, "base_model_name_or_path": "Qwen/Qwen2.5-0.5B",
  "bias": "none", "corda_config": null, "ensure_weight_tying": false, "eva_config": null,
  "exclude_modules": null, "fan_in_fan_out": false, "inference_mode": true,
  "init_lora_weights": true, "layer_replication": null, "layers_pattern": null,
  "layers_to_transform": null, "loftq_config": {}, "lora_alpha": 32, "lora_bias": false,
  "lora_dropout": 0.1, "lora_ga_config": null, "megatron_config": null,
  "megatron_core": "megatron.core", "modules_to_save": null, "peft_type": "LORA",
  "peft_version": "0.19.1", "qalora_group_size": 16, "r": 4, "rank_pattern": {},
  "revision": null, "target_modules": ["up_proj", "k_proj"], "target_parameters": null,
  "task_type": "CAUSAL_LM", "trainable_token_indices": null, "use_bdlora": null,
  "use_dora": false, "use_qalora": false, "use_rslora": false
})");
    NamedTensors tensors;
    torch::manual_seed(21);
    for (int l = 0; l < 2; ++l) {
        const std::string L = "base_model.model.model.layers." + std::to_string(l);
        tensors.emplace_back(L + ".self_attn.k_proj.lora_A.weight", torch::randn({4, 192}));
        tensors.emplace_back(L + ".self_attn.k_proj.lora_B.weight", torch::randn({64, 4}));
        tensors.emplace_back(L + ".mlp.up_proj.lora_A.weight", torch::randn({4, 192}));
        tensors.emplace_back(L + ".mlp.up_proj.lora_B.weight", torch::randn({512, 4}));
    }
    write_safetensors(tmp.file("adapter_model.safetensors"), tensors, {{"format", "pt"}});
    auto lm = make(tiny());
    auto cfg = load_peft_adapter(tmp.path(), lm);
    EXPECT_EQ(cfg.resolved_targets(), (std::vector<std::string>{"k_proj", "up_proj"}));
    EXPECT_DOUBLE_EQ(cfg.dropout, 0.1);
    // Each adapted projection computes x W^T + b + (32 / 4) x A^T B^T with the file's A, B.
    auto up = lm->model->layers[1]->as<DecoderLayer>()->mlp->up_proj;
    const std::string key = "base_model.model.model.layers.1.mlp.up_proj.lora_";
    for (const auto& [name, t] : tensors) {
        if (name == key + "A.weight") {
            EXPECT_TRUE(torch::equal(up->lora_A->weight, t));
        } else if (name == key + "B.weight") {
            EXPECT_TRUE(torch::equal(up->lora_B->weight, t));
        }
    }
    torch::NoGradGuard g;
    auto x = torch::randn({3, 192});
    auto w = up->weight.to(torch::kFloat64);
    auto a = up->lora_A->weight.to(torch::kFloat64), b = up->lora_B->weight.to(torch::kFloat64);
    auto want =
        torch::matmul(x.to(torch::kFloat64), (w + 8.0 * torch::matmul(b, a)).t());  // no bias
    EXPECT_LT(max_diff(up(x), want) / want.abs().max().item<double>(), 1e-5);
}

TEST(Peft, AllLinearStringAndPeftDefaultsAreAccepted) {
    auto c = parse_peft_adapter_config(
        R"({"peft_type": "LORA", "target_modules": "all-linear", "r": 2, "auto_mapping": null,
            "some_future_key": 1, "task_type": null, "init_lora_weights": "gaussian"})",
        "adapter_config.json");
    EXPECT_EQ(c.r, 2);
    EXPECT_DOUBLE_EQ(c.alpha, 8.0);  // PEFT's default lora_alpha
    EXPECT_DOUBLE_EQ(c.dropout, 0.0);
    EXPECT_EQ(c.resolved_targets(), kAll);
}

TEST(Peft, DottedSuffixTargetsSelectTheSameProjections) {
    // PEFT matches target_modules entries against the end of the module path.
    auto c = parse_peft_adapter_config(
        R"({"peft_type": "LORA", "target_modules": ["self_attn.q_proj", "mlp.down_proj"]})", "c");
    EXPECT_EQ(c.resolved_targets(), (std::vector<std::string>{"q_proj", "down_proj"}));
    // A suffix naming the wrong parent, or one layer only, selects something else: rejected.
    for (const char* bad : {"mlp.q_proj", "layers.0.self_attn.q_proj", "attn.q_proj"}) {
        auto msg = error_of([&] {
            parse_peft_adapter_config(
                std::string(R"({"peft_type": "LORA", "target_modules": [")") + bad + "\"]}", "c");
        });
        EXPECT_NE(msg.find(bad), std::string::npos) << msg;
    }
}

TEST(Peft, UnsupportedConfigSettingsAreAllNamed) {
    auto msg = error_of([] {
        parse_peft_adapter_config(
            R"({"peft_type": "LORA", "target_modules": ["q_proj", "lm_head"], "use_dora": true,
                "bias": "all", "rank_pattern": {"q_proj": 4}, "lora_dropout": 1.5,
                "init_lora_weights": "pissa"})",
            "adapter_config.json");
    });
    for (const char* what :
         {"lm_head", "use_dora", "bias", "rank_pattern", "lora_dropout", "init_lora_weights"})
        EXPECT_NE(msg.find(what), std::string::npos) << what << " in: " << msg;
    auto regex = error_of([] {
        parse_peft_adapter_config(R"({"peft_type": "LORA", "target_modules": ".*q_proj"})", "c");
    });
    EXPECT_NE(regex.find("regular expression"), std::string::npos) << regex;
    EXPECT_NE(error_of([] {
                  parse_peft_adapter_config(R"({"peft_type": "IA3", "target_modules": []})", "c");
              }).find("IA3"),
              std::string::npos);
}

TEST(Peft, MissingMisshapedAndUnexpectedTensorsAreAllNamed) {
    auto lm = make(tiny());
    LoraConfig cfg;
    cfg.r = 4;
    apply_lora(lm, cfg, 1);
    test::TempDir tmp;
    save_peft_adapter(tmp.path(), lm, cfg, "");
    // Rewrite the weights: one tensor dropped, one with the wrong rank, one with PEFT's
    // in-memory adapter name, one without the prefix.
    const std::string P = "base_model.model.model.layers.";
    const std::string missing = P + "1.self_attn.v_proj.lora_B.weight";
    const std::string misshaped = P + "0.self_attn.q_proj.lora_A.weight";
    const std::string with_name = P + "0.self_attn.k_proj.lora_A.default.weight";
    const std::string no_prefix = "model.layers.0.self_attn.q_proj.lora_B.weight";
    NamedTensors rewritten;
    auto file = SafetensorsFile::open(tmp.file("adapter_model.safetensors"));
    for (const auto& t : file->header().tensors) {
        if (t.name == missing) continue;
        auto v = file->tensor(t.name).clone();
        rewritten.emplace_back(t.name, t.name == misshaped ? torch::zeros({5, 192}) : v);
    }
    rewritten.emplace_back(with_name, torch::zeros({4, 192}));
    rewritten.emplace_back(no_prefix, torch::zeros({192, 4}));
    file.reset();
    write_safetensors(tmp.file("adapter_model.safetensors"), rewritten);

    auto fresh = make(tiny());
    auto msg = error_of([&] { load_peft_adapter(tmp.path(), fresh); });
    for (const auto& name : {missing, misshaped, with_name, no_prefix})
        EXPECT_NE(msg.find("'" + name + "'"), std::string::npos) << name << " in: " << msg;
    EXPECT_NE(msg.find("4 problems"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[5, 192]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("adapter name"), std::string::npos) << msg;
    EXPECT_FALSE(has_lora(fresh));  // nothing changed on failure
}

TEST(Peft, WrongBaseModelAndOtherDirectoryProblems) {
    auto lm = make(tiny());
    LoraConfig cfg;
    apply_lora(lm, cfg, 1);
    test::TempDir tmp;
    save_peft_adapter(tmp.path(), lm, cfg, "");
    // A base model with a different hidden size: every tensor is misshaped.
    auto other_cfg = tiny();
    other_cfg.hidden_size = 96;
    other_cfg.head_dim = 16;
    auto other = make(other_cfg);
    auto msg = error_of([&] { load_peft_adapter(tmp.path(), other); });
    EXPECT_NE(msg.find("8 problems"), std::string::npos) << msg;
    // Saving with a configuration the adapters were not made with.
    LoraConfig other_alpha = cfg;
    other_alpha.alpha = cfg.alpha * 2;
    test::TempDir out;
    msg = error_of([&] { save_peft_adapter(out.file("a"), lm, other_alpha, ""); },
                   ErrorKind::conflict);
    EXPECT_NE(msg.find("scaling"), std::string::npos) << msg;
    LoraConfig other_targets = cfg;
    other_targets.target_modules = {"q_proj"};
    msg = error_of([&] { save_peft_adapter(out.file("b"), lm, other_targets, ""); },
                   ErrorKind::conflict);
    EXPECT_NE(msg.find("v_proj.lora_A"), std::string::npos) << msg;
    EXPECT_FALSE(std::filesystem::exists(out.file("a")));
    // Loading onto a model that already has adapters.
    error_of([&] { load_peft_adapter(tmp.path(), lm); }, ErrorKind::conflict);
    // Pickle weights only.
    test::TempDir bin;
    test::write_file(bin.file("adapter_config.json"),
                     test::read_file(tmp.file("adapter_config.json")));
    test::write_file(bin.file("adapter_model.bin"), "not really");
    auto fresh = make(tiny());
    msg = error_of([&] { load_peft_adapter(bin.path(), fresh); });
    EXPECT_NE(msg.find("adapter_model.bin"), std::string::npos) << msg;
    // No config at all.
    test::TempDir empty;
    error_of([&] { load_peft_adapter(empty.path(), fresh); }, ErrorKind::not_found);
}
