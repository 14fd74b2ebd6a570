// Fixtures for the export tests: a small byte-level BPE tokenizer (so that tiny models have a
// vocabulary of ~270 and the tests stay fast) and tiny random model directories.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/json_file.h"
#include "model/model_init.h"
#include "support/test_support.h"

namespace llmtune::test {

// GPT-2's byte -> character table of byte-level BPE, as UTF-8.
inline std::vector<std::string> byte_level_chars() {
    std::vector<int> bs, cs;
    for (int b = 33; b <= 126; ++b) bs.push_back(b);
    for (int b = 161; b <= 172; ++b) bs.push_back(b);
    for (int b = 174; b <= 255; ++b) bs.push_back(b);
    cs = bs;
    int n = 0;
    for (int b = 0; b < 256; ++b)
        if (std::find(bs.begin(), bs.end(), b) == bs.end()) {
            bs.push_back(b);
            cs.push_back(256 + n++);
        }
    std::vector<std::string> out(256);
    for (size_t k = 0; k < bs.size(); ++k) {
        const int c = cs[k];
        std::string u;
        if (c < 0x80) {
            u += static_cast<char>(c);
        } else {
            u += static_cast<char>(0xC0 | (c >> 6));
            u += static_cast<char>(0x80 | (c & 0x3F));
        }
        out[bs[k]] = u;
    }
    return out;
}

inline const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Writes tokenizer.json and tokenizer_config.json of a byte-level BPE into `dir`: 256 byte
// tokens, 5 merges, 3 special added tokens and one plain added token ("<think>", id 264).
// `regex` is the Split pre-tokenizer's pattern.
inline void write_small_bpe_tokenizer(const std::string& dir, const std::string& regex = kQwen2Regex) {
    auto chars = byte_level_chars();
    ordered_json vocab = ordered_json::object();
    for (int b = 0; b < 256; ++b) vocab[chars[b]] = b;
    const std::string G = chars[' '];  // "Ġ"
    std::vector<std::pair<std::string, std::string>> merges = {
        {G, "t"}, {"h", "e"}, {G + "t", "he"}, {"l", "l"}, {"o", "r"}};
    ordered_json jm = ordered_json::array();
    int id = 256;
    for (const auto& [a, b] : merges) {
        vocab[a + b] = id++;
        jm.push_back(a + " " + b);
    }
    ordered_json added = ordered_json::array();
    const std::pair<const char*, bool> specials[] = {
        {"<|endoftext|>", true}, {"<|im_start|>", true}, {"<|im_end|>", true}, {"<think>", false}};
    for (const auto& [content, special] : specials)
        added.push_back({{"id", id++},
                         {"content", content},
                         {"single_word", false},
                         {"lstrip", false},
                         {"rstrip", false},
                         {"normalized", false},
                         {"special", special}});
    ordered_json byte_level = {
        {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
    ordered_json tj = {
        {"version", "1.0"},
        {"truncation", nullptr},
        {"padding", nullptr},
        {"added_tokens", added},
        {"normalizer", {{"type", "NFC"}}},
        {"pre_tokenizer",
         {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}},
            byte_level}}}},
        {"post_processor", byte_level},
        {"decoder", byte_level},
        {"model",
         {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", nullptr},
          {"continuing_subword_prefix", ""},
          {"end_of_word_suffix", ""},
          {"fuse_unk", false},
          {"byte_fallback", false},
          {"ignore_merges", false},
          {"vocab", vocab},
          {"merges", jm}}}};
    std::filesystem::create_directories(dir);
    write_file(dir + "/tokenizer.json", tj.dump(1));
    ordered_json cfg = {
        {"add_bos_token", false},
        {"bos_token", nullptr},
        {"eos_token", "<|im_end|>"},
        {"pad_token", "<|endoftext|>"},
        {"chat_template",
         "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
         "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"},
        {"tokenizer_class", "Qwen2Tokenizer"}};
    write_file(dir + "/tokenizer_config.json", cfg.dump(2));
}

// A tiny random model of `arch` in `out` with the tokenizer in `tokenizer_dir`.
inline model::ModelConfig make_tiny_model(const std::string& arch, const std::string& tokenizer_dir,
                                          const std::string& out, uint64_t seed = 1) {
    model::InitOptions o;
    o.arch = model::architecture_from_name(arch);
    o.preset = "tiny";
    o.tokenizer = tokenizer_dir;
    o.out_dir = out;
    o.seed = seed;
    return model::init_model_dir(o);
}

}  // namespace llmtune::test
