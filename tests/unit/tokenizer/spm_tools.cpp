#include "unit/tokenizer/spm_tools.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "common/json_file.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace llmtune::test {

namespace {

// The scratch directory of the whole test program, with train.txt and texts.json.
const TempDir& work_dir() {
    static TempDir* dir = [] {
        auto* d = new TempDir();  // lives for the whole test program
        RunResult r = run_command("node " +
                                  sh_quote(std::string(LLMTUNE_SOURCE_DIR) +
                                           "/tests/reference/sentencepiece_corpus.mjs") +
                                  " --texts " + sh_quote(d->file("texts.json")) + " --train " +
                                  sh_quote(d->file("train.txt")));
        EXPECT_EQ(r.exit_code, 0) << r.err << "\nhint: run `npm ci` in the repository root";
        return d;
    }();
    return *dir;
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

// Runs `tool` on `lines` (one per line) and returns its output lines.
std::vector<std::string> run_tool(const std::string& tool, const std::vector<std::string>& lines) {
    TempDir dir;
    std::string input;
    for (const auto& l : lines) {
        EXPECT_EQ(l.find('\n'), std::string::npos) << "the tools read one line per input";
        input += l + "\n";
    }
    write_file(dir.file("in.txt"), input);
    RunResult r = run_command(tool + " < " + sh_quote(dir.file("in.txt")));
    if (r.exit_code != 0) {
        ADD_FAILURE() << tool << " failed (exit " << r.exit_code << "): " << r.err
                      << "\nhint: install Debian's sentencepiece package (scripts/setup does)";
        return {};
    }
    std::vector<std::string> out = split_lines(r.out);
    if (out.size() != lines.size()) {
        ADD_FAILURE() << tool << " wrote " << out.size() << " lines for " << lines.size();
        return {};
    }
    return out;
}

std::vector<std::string> split_spaces(const std::string& line) {
    std::vector<std::string> parts;
    std::istringstream in(line);
    std::string part;
    while (std::getline(in, part, ' '))
        if (!part.empty()) parts.push_back(part);
    return parts;
}

}  // namespace

std::string sh_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

std::string spm_model_dir(const std::string& name) {
    static std::map<std::string, std::string> trained;
    auto it = trained.find(name);
    if (it != trained.end()) return it->second;
    std::string options;
    if (name == "bpe") {
        options =
            "--model_type=bpe --byte_fallback=true --normalization_rule_name=identity "
            "--remove_extra_whitespaces=false --split_digits=true "
            "--user_defined_symbols='<|im_start|>,<|im_end|>'";
    } else if (name == "unigram") {
        options = "--model_type=unigram --add_dummy_prefix=false --control_symbols='<ctl>'";
    } else {
        ADD_FAILURE() << "no SentencePiece test model " << name;
        return "";
    }
    std::string dir = work_dir().file(name);
    fs::create_directories(dir);
    // character_coverage below 1 leaves rare characters to byte fallback or <unk>.
    RunResult r = run_command("spm_train --input=" + sh_quote(work_dir().file("train.txt")) +
                              " --model_prefix=" + sh_quote(dir + "/tokenizer") +
                              " --vocab_size=1500 --character_coverage=0.98 "
                              "--hard_vocab_limit=false --num_threads=1 --minloglevel=2 " +
                              options);
    EXPECT_EQ(r.exit_code, 0) << r.err
                              << "\nhint: install Debian's sentencepiece package (scripts/setup)";
    fs::remove(dir + "/tokenizer.vocab");  // only tokenizer.model is a model file
    trained[name] = dir;
    return dir;
}

const std::vector<std::string>& spm_test_texts() {
    static std::vector<std::string> texts = [] {
        json j = read_json_file(work_dir().file("texts.json"));
        return j.get<std::vector<std::string>>();
    }();
    return texts;
}

std::vector<std::vector<int64_t>> spm_encode_ids(const std::string& model,
                                                 const std::vector<std::string>& texts) {
    std::vector<std::vector<int64_t>> out;
    for (const auto& line :
         run_tool("spm_encode --output_format=id --model=" + sh_quote(model), texts)) {
        std::vector<int64_t> ids;
        for (const auto& s : split_spaces(line))
            ids.push_back(std::stoll(s));
        out.push_back(std::move(ids));
    }
    return out;
}

std::vector<std::vector<std::string>> spm_encode_pieces(const std::string& model,
                                                        const std::vector<std::string>& texts) {
    std::vector<std::vector<std::string>> out;
    for (const auto& line :
         run_tool("spm_encode --output_format=piece --model=" + sh_quote(model), texts))
        out.push_back(split_spaces(line));
    return out;
}

std::vector<std::string> spm_decode_ids(const std::string& model,
                                        const std::vector<std::vector<int64_t>>& ids) {
    std::vector<std::string> lines;
    for (const auto& seq : ids) {
        std::string line;
        for (size_t i = 0; i < seq.size(); ++i)
            line += (i ? " " : "") + std::to_string(seq[i]);
        lines.push_back(line);
    }
    return run_tool("spm_decode --input_format=id --model=" + sh_quote(model), lines);
}

std::vector<std::string> spm_export_vocab(const std::string& model) {
    TempDir dir;
    RunResult r = run_command("spm_export_vocab --model=" + sh_quote(model) +
                              " --output=" + sh_quote(dir.file("vocab.tsv")));
    if (r.exit_code != 0) {
        ADD_FAILURE() << "spm_export_vocab failed: " << r.err;
        return {};
    }
    std::vector<std::string> pieces;
    for (const auto& line : split_lines(read_file(dir.file("vocab.tsv"))))
        pieces.push_back(line.substr(0, line.rfind('\t')));  // "piece\tscore"
    return pieces;
}

}  // namespace llmtune::test
