#include "cli/cli_common.h"

#include <torch/torch.h>

#include <thread>

#include "common/error.h"

namespace llmtune::cli {

void set_threads(int threads) {
    if (threads < 0) throw_invalid("--threads must be >= 0 (0 = one per core)");
    if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    // torch defaults to 1 thread on some machines; always say how many.
    at::set_num_threads(threads);
}

void usage_error(const std::string& message) {
    throw CLI::ValidationError(message);
}

std::vector<int64_t> parse_id_list(const std::string& text, const std::string& flag) {
    std::vector<int64_t> ids;
    size_t i = 0;
    while (i <= text.size()) {
        size_t j = text.find(',', i);
        if (j == std::string::npos) j = text.size();
        std::string item = text.substr(i, j - i);
        size_t used = 0;
        long long v = -1;
        try {
            v = std::stoll(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size() || v < 0)
            throw_invalid(flag + ": '" + item + "' is not a token id", "pass ids like 1,2,3");
        ids.push_back(v);
        i = j + 1;
    }
    return ids;
}

}  // namespace llmtune::cli
