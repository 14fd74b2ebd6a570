#include "data/training_example.h"

#include <algorithm>

namespace llmtune::data {

int64_t TrainingExample::target_count() const {
    return static_cast<int64_t>(
        std::count_if(targets.begin(), targets.end(), [](int32_t t) { return t != kIgnoreTarget; }));
}

}  // namespace llmtune::data
