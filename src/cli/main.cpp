// llmtune: one binary, one subcommand per file in this directory.
#include <c10/util/Exception.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <new>

#include "cli/cli_common.h"
#include "common/error.h"

using llmtune::Error;
using llmtune::ErrorKind;
using namespace llmtune::cli;

namespace {

int report(const std::string& what, const std::string& hint, int code) {
    std::fprintf(stderr, "llmtune: error: %s\n", what.c_str());
    if (!hint.empty()) std::fprintf(stderr, "hint: %s\n", hint.c_str());
    return code;
}

int exit_code_for(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::invalid_input:
        case ErrorKind::not_found:
        case ErrorKind::conflict:
        case ErrorKind::unauthorized:
            return kInvalidInput;
        case ErrorKind::io:
        case ErrorKind::resource_exhausted:
        case ErrorKind::cancelled:
            return kIo;
        case ErrorKind::internal:
            return kInternal;
    }
    return kInternal;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"llmtune: fine-tune, run and export Hugging Face language models"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "llmtune 0.1.0");

    auto* model = app.add_subcommand("model", "Create and inspect Hugging Face model directories");
    model->require_subcommand(1);
    register_model_init(*model);
    register_model_info(*model);
    register_tokenize(app);
    register_chat_template(app);
    register_generate(app);
    register_chat(app);
    register_data(app);
    register_train(app);
    register_launch(app);
    register_export(app);
    register_estimate(app);
    register_bench(app);
    register_serve(app);
    register_worker(app);
    register_sagemaker(app);

    // SageMaker starts a training image as `<entrypoint> train`: inside its container a bare
    // `train` is the container contract (elsewhere it stays a usage error).
    char sm_word[] = "sagemaker", train_word[] = "train";
    char* sm_argv[] = {argv[0], sm_word, train_word, nullptr};
    if (is_sagemaker_bare_train(argc, argv)) {
        argc = 3;
        argv = sm_argv;
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        return report(e.what(), "run with --help to see the usage", kUsage);
    } catch (const Error& e) {
        return report(e.message(), e.hint(), exit_code_for(e.kind()));
    } catch (const std::filesystem::filesystem_error& e) {
        return report(e.what(), "check the path and its permissions", kIo);
    } catch (const std::bad_alloc&) {
        return report("out of memory", "use a smaller model, batch or sequence length, or bf16",
                      kIo);
    } catch (const c10::Error& e) {
        return report(std::string("torch: ") + e.what_without_backtrace(),
                      "this is likely a bug in llmtune; please report it", kInternal);
    } catch (const std::exception& e) {
        return report(e.what(), "this is likely a bug in llmtune; please report it", kInternal);
    }
    return kOk;
}
