// GET /v1/files/{id}/preview over real HTTP: the records rendered with the model's template,
// tokenized as training does, and split into trained and untrained text.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/json_file.h"
#include "data/canonical_record.h"
#include "data/chat_encoding.h"
#include "http_test_util.h"
#include "service/file_preview.h"
#include "tokenizer/tokenizer.h"

using namespace llmtune;
using llmtune::test::raw_get;
using llmtune::test::TempDir;
using llmtune::test::TestServer;
namespace fs = std::filesystem;

namespace {

// A Llama 3 chat template that writes the assistant header only as the generation prompt.
const char* kLlama3Template =
    "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + "
    "'<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}";

// models/<name>: a llama config.json and the npm Llama 3 tokenizer with kLlama3Template.
void make_model(const std::string& dir) {
    fs::create_directories(dir);
    test::write_file(dir + "/config.json", R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
  "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
  "num_key_value_heads": 4, "vocab_size": 128256, "max_position_embeddings": 256,
  "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "tie_word_embeddings": false,
  "torch_dtype": "float32", "bos_token_id": 128000, "eos_token_id": 128009})");
    std::string src = test::npm_tokenizer_dir("llama3");
    fs::copy_file(src + "/tokenizer.json", dir + "/tokenizer.json");
    json cfg = read_json_file(src + "/tokenizer_config.json");
    cfg["chat_template"] = kLlama3Template;
    cfg["eos_token"] = "<|eot_id|>";
    test::write_file(dir + "/tokenizer_config.json", cfg.dump());
}

service::FileRecord upload(service::Service& svc, const std::string& name,
                           const std::string& bytes) {
    auto who = svc.auth().authenticate("Bearer " + svc.admin_key().key);
    auto w = svc.files().begin_upload();
    w->write(bytes.data(), bytes.size());
    auto f = svc.files().create(who, name, "fine-tune", *w);
    svc.queue().wait_idle();
    return svc.files().get(who, f.id);
}

ordered_json get_json(TestServer& s, const std::string& path, int want_status) {
    auto r = raw_get(s.port(), path, s.auth());
    EXPECT_EQ(r.status, want_status) << path << ": " << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json");
    auto j = ordered_json::parse(r.body, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.body;
    return j;
}

std::string joined(const ordered_json& segments) {
    std::string s;
    for (const auto& x : segments) s += x["text"].get<std::string>();
    return s;
}

std::vector<std::string> trained_texts(const ordered_json& segments) {
    std::vector<std::string> out;
    for (const auto& x : segments)
        if (x["trained"].get<bool>()) out.push_back(x["text"]);
    return out;
}

}  // namespace

TEST(FilePreview, TrainedTextIsTheAssistantReplyAndItsEndOfTurn) {
    TempDir dir;
    make_model(dir.file("models/llama"));
    TestServer server(dir.file("data"), dir.file("models"));
    std::string chat =
        R"({"messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"4"}]})"
        "\n"
        R"({"messages":[{"role":"user","content":"Capital of France?"},{"role":"assistant","content":"Paris."},{"role":"user","content":"And of Japan? 日本"},{"role":"assistant","content":"Tōkyō — 東京."}]})"
        "\n"
        R"({"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"context only","weight":0},{"role":"user","content":"Again"},{"role":"assistant","content":"Trained."}]})"
        "\n";
    for (int i = 0; i < 60; ++i)
        chat += R"({"messages":[{"role":"user","content":"n)" + std::to_string(i) +
                R"("},{"role":"assistant","content":"ok"}]})" + "\n";
    auto f = upload(server.svc(), "chat.jsonl", chat);
    ASSERT_EQ(f.status, service::kFileProcessed) << f.status_details;

    // No model: the first usable base model; default limit 5.
    auto j = get_json(server, "/v1/files/" + f.id + "/preview", 200);
    EXPECT_EQ(j["object"], "list");
    EXPECT_EQ(j["model"], "llama");
    ASSERT_EQ(j["data"].size(), 5u);

    const auto& first = j["data"][0];
    EXPECT_EQ(first["line"], 1);
    EXPECT_EQ(first["kind"], "chat");
    ASSERT_EQ(first["messages"].size(), 3u);
    EXPECT_EQ(first["messages"][2]["role"], "assistant");
    EXPECT_EQ(first["messages"][2]["content"], "4");
    EXPECT_EQ(trained_texts(first["segments"]), std::vector<std::string>{"4<|eot_id|>"});
    std::string render =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe terse.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>";
    EXPECT_EQ(joined(first["segments"]), render);
    EXPECT_EQ(first["segments"].size(), 2u);
    EXPECT_EQ(first["trained_tokens"], 2);  // "4" and <|eot_id|>
    EXPECT_TRUE(first["error"].is_null());

    // The counts are the trainer's own encoder's.
    data::ExampleEncoder enc(dir.file("models/llama"), data::EncodeOptions{});
    data::CanonicalRecord rec{data::RecordKind::chat,
                              ordered_json::parse(chat.substr(0, chat.find('\n')))};
    auto t = enc.tokens(rec);
    EXPECT_EQ(first["tokens"], static_cast<int64_t>(t.ids.size()));

    // Two trained replies, UTF-8 intact; a weight-0 reply is context only.
    EXPECT_EQ(trained_texts(j["data"][1]["segments"]),
              (std::vector<std::string>{"Paris.<|eot_id|>", "Tōkyō — 東京.<|eot_id|>"}));
    EXPECT_EQ(trained_texts(j["data"][2]["segments"]),
              std::vector<std::string>{"Trained.<|eot_id|>"});
    EXPECT_NE(joined(j["data"][2]["segments"]).find("context only<|eot_id|>"), std::string::npos);

    // limit, and the explicit model.
    auto all = get_json(server, "/v1/files/" + f.id + "/preview?model=llama&limit=50", 200);
    EXPECT_EQ(all["data"].size(), 50u);
    EXPECT_EQ(all["data"][49]["line"], 50);
    auto e = get_json(server, "/v1/files/" + f.id + "/preview?limit=51", 400);
    EXPECT_EQ(e["error"]["param"], "limit");
    get_json(server, "/v1/files/" + f.id + "/preview?limit=0", 400);

    // Errors: unknown model, unknown file, no key.
    e = get_json(server, "/v1/files/" + f.id + "/preview?model=nope", 404);
    EXPECT_EQ(e["error"]["code"], "model_not_found");
    EXPECT_EQ(e["error"]["param"], "model");
    get_json(server, "/v1/files/file-nope/preview", 404);
    EXPECT_EQ(raw_get(server.port(), "/v1/files/" + f.id + "/preview").status, 401);
}

TEST(FilePreview, TextPreferenceAndUnprocessedFiles) {
    TempDir dir;
    make_model(dir.file("models/llama"));
    TestServer server(dir.file("data"), dir.file("models"));

    auto text = upload(server.svc(), "notes.txt", "Plain text for continued pretraining.\n");
    ASSERT_EQ(text.status, service::kFileProcessed) << text.status_details;
    auto j = get_json(server, "/v1/files/" + text.id + "/preview?model=llama", 200);
    ASSERT_GE(j["data"].size(), 1u);
    const auto& t = j["data"][0];
    EXPECT_EQ(t["kind"], "text");
    EXPECT_NE(t["text"].get<std::string>().find("Plain text"), std::string::npos);
    // Every token of a text record is trained, the appended EOS included.
    ASSERT_EQ(t["segments"].size(), 1u);
    EXPECT_TRUE(t["segments"][0]["trained"].get<bool>());
    EXPECT_EQ(t["tokens"], t["trained_tokens"]);
    EXPECT_EQ(t["segments"][0]["text"], "Plain text for continued pretraining.<|eot_id|>");

    auto pref = upload(server.svc(), "pref.jsonl",
                       R"({"prompt":[{"role":"user","content":"Hi"}],"chosen":[{"role":"assistant","content":"Hello!"}],"rejected":[{"role":"assistant","content":"Go away."}]})"
                       "\n");
    ASSERT_EQ(pref.status, service::kFileProcessed) << pref.status_details;
    j = get_json(server, "/v1/files/" + pref.id + "/preview", 200);
    ASSERT_EQ(j["data"].size(), 1u);
    EXPECT_EQ(j["data"][0]["kind"], "preference");
    EXPECT_TRUE(j["data"][0]["segments"].is_null());
    EXPECT_EQ(j["data"][0]["chosen"][0]["content"], "Hello!");
    EXPECT_EQ(j["data"][0]["rejected"][0]["content"], "Go away.");

    auto bad = upload(server.svc(), "bad.jsonl", "{not json}\n");
    ASSERT_EQ(bad.status, service::kFileError);
    auto e = get_json(server, "/v1/files/" + bad.id + "/preview", 400);
    EXPECT_EQ(e["error"]["code"], "file_not_processed");
    EXPECT_NE(e["error"]["message"].get<std::string>().find("failed validation"), std::string::npos);
}

TEST(FilePreview, NoModelToPreviewWithIsA404) {
    TempDir dir;
    TestServer server(dir.file("data"), dir.file("models"));
    auto f = upload(server.svc(), "c.jsonl",
                    R"({"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]})"
                    "\n");
    auto e = get_json(server, "/v1/files/" + f.id + "/preview", 404);
    EXPECT_EQ(e["error"]["code"], "model_not_found");
}

TEST(FilePreview, SegmentsNeverSplitACharacterAndJoinToTheDecode) {
    auto tok = tokenizer::Tokenizer::load(test::npm_tokenizer_dir("llama3"));
    // Byte-level BPE splits these characters across tokens; alternate the flags per token.
    std::string text = "日本語のテキスト 🤖 emoji";
    auto ids64 = tok->encode(text, false);
    std::vector<int32_t> ids(ids64.begin(), ids64.end());
    std::vector<uint8_t> trained(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) trained[i] = i % 2;
    auto segs = service::trained_segments(*tok, ids, trained);
    std::string all;
    for (size_t i = 0; i < segs.size(); ++i) {
        all += segs[i].text;
        if (i > 0) {
            EXPECT_NE(segs[i].trained, segs[i - 1].trained) << "runs alternate";
        }
        EXPECT_EQ(segs[i].text.find("\xEF\xBF\xBD"), std::string::npos) << "no U+FFFD";
    }
    EXPECT_EQ(all, text);
    EXPECT_TRUE(service::trained_segments(*tok, {}, {}).empty());
}

TEST(FileTokenStats, CountsWhatThePreviewCountsWithAHistogram) {
    TempDir dir;
    make_model(dir.file("models/llama"));
    TestServer server(dir.file("data"), dir.file("models"));
    std::string chat =
        R"({"messages":[{"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"4"}]})"
        "\n"
        R"({"messages":[{"role":"user","content":"Capital of France?"},{"role":"assistant","content":"Paris, a city on the Seine."}]})"
        "\n"
        R"({"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"context","weight":0},{"role":"user","content":"Again"},{"role":"assistant","content":"Trained."}]})"
        "\n";
    auto f = upload(server.svc(), "chat.jsonl", chat);
    ASSERT_EQ(f.status, service::kFileProcessed) << f.status_details;

    auto p = get_json(server, "/v1/files/" + f.id + "/preview?model=llama", 200);
    int64_t tokens = 0, trained = 0, longest = 0;
    for (const auto& ex : p["data"]) {
        tokens += ex["tokens"].get<int64_t>();
        trained += ex["trained_tokens"].get<int64_t>();
        longest = std::max(longest, ex["tokens"].get<int64_t>());
    }
    auto j = get_json(server, "/v1/files/" + f.id + "/token_stats?model=llama&max_seq_len=20", 200);
    EXPECT_EQ(j["object"], "file.token_stats");
    EXPECT_EQ(j["model"], "llama");
    EXPECT_EQ(j["max_seq_len"], 20);
    const auto& t = j["tokens"];
    EXPECT_EQ(t["count"], 3);
    EXPECT_EQ(t["total"], tokens);
    EXPECT_EQ(t["trainable_tokens"], trained);
    EXPECT_EQ(t["max"], longest);
    int64_t in_buckets = 0;
    for (const auto& b : t["histogram"]) in_buckets += b["count"].get<int64_t>();
    EXPECT_EQ(in_buckets, 3);
    // Asked again: the same answer (from the cache).
    EXPECT_EQ(get_json(server, "/v1/files/" + f.id + "/token_stats?model=llama&max_seq_len=20",
                       200)["tokens"],
              t);

    auto e = get_json(server, "/v1/files/" + f.id + "/token_stats?max_seq_len=0", 400);
    EXPECT_EQ(e["error"]["param"], "max_seq_len");
    get_json(server, "/v1/files/" + f.id + "/token_stats?max_seq_len=12x", 400);
    e = get_json(server, "/v1/files/" + f.id + "/token_stats?model=nope", 404);
    EXPECT_EQ(e["error"]["code"], "model_not_found");
    get_json(server, "/v1/files/file-nope/token_stats", 404);
    auto bad = upload(server.svc(), "bad.jsonl", "{\"nope\": 1}\n");
    e = get_json(server, "/v1/files/" + bad.id + "/token_stats", 400);
    EXPECT_EQ(e["error"]["code"], "file_not_processed");
}
