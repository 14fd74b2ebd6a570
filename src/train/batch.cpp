#include "train/batch.h"

#include <limits>
#include <string>

#include "common/error.h"

// Legend: B rows, T positions per row.

namespace llmtune::train {

namespace {

void check_example(const data::TrainingExample& ex, size_t row) {
    if (ex.input_ids.empty())
        throw_invalid("batch row " + std::to_string(row) + " holds an empty example",
                      "drop examples with no tokens before batching");
    if (ex.targets.size() != ex.input_ids.size())
        throw_invalid("batch row " + std::to_string(row) + ": an example has " +
                      std::to_string(ex.input_ids.size()) + " input ids but " +
                      std::to_string(ex.targets.size()) + " targets");
}

// The dtype's lowest finite value: an additive mask that never produces -inf - -inf = NaN.
double lowest_of(torch::Dtype dtype) {
    switch (dtype) {
        case torch::kBFloat16:
            return -3.3895313892515355e38;
        case torch::kFloat16:
            return -65504.0;
        case torch::kFloat64:
            return std::numeric_limits<double>::lowest();
        default:
            return std::numeric_limits<float>::lowest();
    }
}

}  // namespace

Batch make_padded_batch(const std::vector<const data::TrainingExample*>& rows, int32_t pad_id) {
    if (rows.empty()) throw_invalid("a batch needs at least one example");
    int64_t t = 0;
    for (size_t r = 0; r < rows.size(); ++r) {
        LLMTUNE_ASSERT(rows[r] != nullptr, "null example in a batch");
        check_example(*rows[r], r);
        t = std::max(t, rows[r]->size());
    }
    const int64_t b = static_cast<int64_t>(rows.size());
    auto ids = torch::full({b, t}, static_cast<int64_t>(pad_id), torch::kInt64);      // (B, T)
    auto targets = torch::full({b, t}, int64_t{data::kIgnoreTarget}, torch::kInt64);  // (B, T)
    auto ids_a = ids.accessor<int64_t, 2>();
    auto tg_a = targets.accessor<int64_t, 2>();
    Batch batch;
    for (int64_t r = 0; r < b; ++r) {
        const auto& ex = *rows[static_cast<size_t>(r)];
        for (int64_t i = 0; i < ex.size(); ++i) {
            ids_a[r][i] = ex.input_ids[static_cast<size_t>(i)];
            tg_a[r][i] = ex.targets[static_cast<size_t>(i)];
        }
        batch.tokens += ex.size();
        batch.target_tokens += ex.target_count();
    }
    batch.input_ids = ids;
    batch.targets = targets;
    batch.position_ids = torch::arange(t, torch::kInt64).unsqueeze(0).expand({b, t}).contiguous();
    return batch;
}

Batch make_packed_batch(const std::vector<std::vector<const data::TrainingExample*>>& rows,
                        int64_t row_len, int32_t pad_id, torch::Dtype bias_dtype,
                        int64_t sliding_window) {
    if (rows.empty()) throw_invalid("a batch needs at least one row");
    if (row_len <= 0) throw_invalid("the packing length must be positive");
    const int64_t b = static_cast<int64_t>(rows.size()), t = row_len;
    auto ids = torch::full({b, t}, static_cast<int64_t>(pad_id), torch::kInt64);      // (B, T)
    auto targets = torch::full({b, t}, int64_t{data::kIgnoreTarget}, torch::kInt64);  // (B, T)
    auto pos = torch::zeros({b, t}, torch::kInt64);                                   // (B, T)
    // Example number within the row, -1 for padding: the block structure of the mask.
    auto seg = torch::full({b, t}, int64_t{-1}, torch::kInt64);  // (B, T)
    auto ids_a = ids.accessor<int64_t, 2>();
    auto tg_a = targets.accessor<int64_t, 2>();
    auto pos_a = pos.accessor<int64_t, 2>();
    auto seg_a = seg.accessor<int64_t, 2>();
    Batch batch;
    for (int64_t r = 0; r < b; ++r) {
        const auto& row = rows[static_cast<size_t>(r)];
        int64_t at = 0;
        for (size_t e = 0; e < row.size(); ++e) {
            LLMTUNE_ASSERT(row[e] != nullptr, "null example in a packed row");
            const auto& ex = *row[e];
            check_example(ex, static_cast<size_t>(r));
            if (at + ex.size() > t)
                throw_invalid("packed row " + std::to_string(r) + " holds more than " +
                                  std::to_string(t) + " tokens",
                              "the packing plan must keep every row within the packing length");
            for (int64_t i = 0; i < ex.size(); ++i) {
                ids_a[r][at + i] = ex.input_ids[static_cast<size_t>(i)];
                tg_a[r][at + i] = ex.targets[static_cast<size_t>(i)];
                pos_a[r][at + i] = i;
                seg_a[r][at + i] = static_cast<int64_t>(e);
            }
            at += ex.size();
            batch.tokens += ex.size();
            batch.target_tokens += ex.target_count();
        }
    }
    auto q_seg = seg.unsqueeze(2), k_seg = seg.unsqueeze(1);  // (B, T, 1), (B, 1, T)
    auto q_pos = pos.unsqueeze(2), k_pos = pos.unsqueeze(1);
    auto idx = torch::arange(t, torch::kInt64);
    auto not_after = idx.unsqueeze(1) >= idx.unsqueeze(0);  // (T, T): key not after the query
    auto allowed = (q_seg == k_seg) & (q_seg >= 0) & not_after.unsqueeze(0);  // (B, T, T)
    if (sliding_window > 0) allowed = allowed & (q_pos - k_pos < sliding_window);
    allowed = allowed | torch::eye(t, torch::kBool).unsqueeze(0);  // padding sees itself
    auto opts = torch::TensorOptions().dtype(bias_dtype);
    batch.attention_bias =
        torch::where(allowed, torch::zeros({}, opts), torch::full({}, lowest_of(bias_dtype), opts))
            .unsqueeze(1);  // (B, 1, T, T)
    batch.input_ids = ids;
    batch.targets = targets;
    batch.position_ids = pos;
    return batch;
}

Batch batch_to(const Batch& batch, torch::Device device) {
    Batch out = batch;
    out.input_ids = batch.input_ids.to(device, /*non_blocking=*/true);
    out.targets = batch.targets.to(device, true);
    out.position_ids = batch.position_ids.to(device, true);
    if (batch.attention_bias.defined()) out.attention_bias = batch.attention_bias.to(device, true);
    return out;
}

}  // namespace llmtune::train
