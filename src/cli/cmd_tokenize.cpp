// llmtune tokenize / detokenize: the model's tokenizer on the command line.
#include <cstdio>

#include "cli/cli_common.h"
#include "common/error.h"
#include "common/json_file.h"
#include "tokenizer/tokenizer.h"

namespace llmtune::cli {

void register_tokenize(CLI::App& app) {
    struct Args {
        std::string model, tokenizer, text, file;
        bool json = false, no_special = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("tokenize",
                                   "Print the token ids of a text (and the pieces with --json)");
    auto* model = cmd->add_option("--model", a->model, "a model directory holding tokenizer.json");
    auto* tok = cmd->add_option("--tokenizer", a->tokenizer, "a tokenizer.json file");
    model->excludes(tok);
    auto* text = cmd->add_option("--text", a->text, "the text to tokenize");
    auto* file = cmd->add_option("--file", a->file, "read the text from this file");
    text->excludes(file);
    cmd->add_flag("--json", a->json, "print {\"ids\": [...], \"pieces\": [...]}");
    cmd->add_flag("--no-special", a->no_special, "do not add BOS/EOS from the post-processor");
    cmd->callback([a] {
        if (a->model.empty() == a->tokenizer.empty())
            usage_error("give exactly one of --model and --tokenizer");
        if (a->text.empty() == a->file.empty())
            usage_error("give exactly one of --text and --file");
        auto t = tokenizer::Tokenizer::load(a->model.empty() ? a->tokenizer : a->model);
        std::string input = a->file.empty() ? a->text : read_text_file(a->file);
        auto ids = t->encode(input, !a->no_special);
        if (a->json) {
            ordered_json j = {{"ids", ids}, {"pieces", t->pieces(ids)}};
            std::printf("%s\n", j.dump().c_str());
            return;
        }
        for (size_t i = 0; i < ids.size(); ++i)
            std::printf("%s%lld", i ? "," : "", static_cast<long long>(ids[i]));
        std::printf("\n");
    });

    struct DetokArgs {
        std::string model, ids;
        bool keep_special = false;
    };
    auto d = std::make_shared<DetokArgs>();
    auto* detok = app.add_subcommand("detokenize", "Print the text of token ids");
    detok->add_option("--model", d->model, "a model directory, or a tokenizer.json")->required();
    detok->add_option("--ids", d->ids, "token ids, e.g. 1,2,3")->required();
    detok->add_flag("--keep-special", d->keep_special,
                    "print special tokens instead of skipping them");
    detok->callback([d] {
        auto t = tokenizer::Tokenizer::load(d->model);
        std::printf("%s\n",
                    t->decode_text(parse_id_list(d->ids, "--ids"), !d->keep_special).c_str());
    });
}

}  // namespace llmtune::cli
