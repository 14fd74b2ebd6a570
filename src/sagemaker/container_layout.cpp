#include "sagemaker/container_layout.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace llmtune::sagemaker {

const char* const kDefaultRoot = "/opt/ml";
const char* const kRootEnvVariable = "LLMTUNE_SM_ROOT";

ContainerLayout container_layout(const std::string& root_flag) {
    ContainerLayout layout;
    if (!root_flag.empty()) {
        layout.root = root_flag;
    } else if (const char* env = std::getenv(kRootEnvVariable); env && *env) {
        layout.root = env;
    } else {
        layout.root = kDefaultRoot;
    }
    while (layout.root.size() > 1 && layout.root.back() == '/') layout.root.pop_back();
    return layout;
}

bool in_training_container(const ContainerLayout& layout) {
    std::error_code ec;
    return fs::is_directory(layout.config_dir(), ec);
}

bool write_failure_file(const ContainerLayout& layout, const std::string& text) {
    // SageMaker shows the first 1024 characters as the job's FailureReason.
    std::string cut = text;
    if (cut.size() > 1024) {
        size_t n = 1024;
        while (n > 0 && (static_cast<unsigned char>(cut[n]) & 0xC0) == 0x80) --n;
        cut.resize(n);
    }
    std::error_code ec;
    fs::create_directories(layout.output_dir(), ec);
    std::ofstream out(layout.failure_file(), std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << cut;
    out.flush();
    return static_cast<bool>(out);
}

}  // namespace llmtune::sagemaker
