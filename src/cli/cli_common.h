// Shared pieces of the CLI: each subcommand file registers itself on the app through one of
// these functions, and main() maps exceptions to exit codes.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace llmtune::cli {

// Exit codes, as DESIGN.md fixes them.
enum ExitCode { kOk = 0, kInvalidInput = 1, kUsage = 2, kIo = 3, kInternal = 4 };

void register_model_init(CLI::App& model);
void register_model_info(CLI::App& model);
void register_generate(CLI::App& app);
void register_bench(CLI::App& app);
void register_tokenize(CLI::App& app);  // tokenize and detokenize
void register_chat_template(CLI::App& app);
void register_chat(CLI::App& app);
void register_data(CLI::App& app);  // data validate|convert|preview
void register_train(CLI::App& app);
void register_launch(CLI::App& app);  // the local ranks of a data-parallel job
void register_serve(CLI::App& app);  // the API server
void register_worker(CLI::App& app);  // one training job for the server's scheduler
void register_export(CLI::App& app);
void register_estimate(CLI::App& app);  // time, memory and cost before launch
void register_sagemaker(CLI::App& app);  // the SageMaker training-container entry point
// True for a bare `llmtune train` inside a SageMaker training container (cmd_sagemaker.cpp).
bool is_sagemaker_bare_train(int argc, char** argv);

// Sets torch's intra-op threads; 0 means one per available core.
void set_threads(int threads);

// A flag combination the usage forbids: exits 2 with the usage hint, like a parse error.
[[noreturn]] void usage_error(const std::string& message);

// Parses "1,2,3" into token ids; invalid_input naming the bad element.
std::vector<int64_t> parse_id_list(const std::string& text, const std::string& flag);

}  // namespace llmtune::cli
