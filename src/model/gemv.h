// Matrix-vector products for single-token decoding.
//
// Decoding one token multiplies every weight matrix by one vector, so its speed is bounded
// by memory bandwidth. torch's general matmul reaches only about half of it for one row on
// this CPU (measured in docs/benchmarks.md): f32 goes through BLAS gemv instead, and bf16
// through a kernel using AVX512-BF16 dot products where the CPU has them.
#pragma once

#include <torch/torch.h>

namespace llmtune::model {

// Whether `x` (..., in) is a single row that linear_single_row() handles: CPU, f32 or bf16
// matching the weight, and no gradient needed.
bool can_use_single_row_linear(const torch::Tensor& x, const torch::Tensor& weight);

// y = x W^T + b for one row; same result shape and dtype as torch::linear.
torch::Tensor linear_single_row(const torch::Tensor& x, const torch::Tensor& weight,
                                const torch::Tensor& bias);

// Whether this CPU runs the AVX512-BF16 kernel (otherwise bf16 uses torch::linear).
bool cpu_has_avx512_bf16();

}  // namespace llmtune::model
