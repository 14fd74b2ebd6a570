#include "bench/decode_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "bench/memory_bandwidth.h"
#include "common/error.h"
#include "infer/generator.h"
#include "model/loader.h"
#include "model/model_init.h"

namespace llmtune::bench {

namespace {

// Bytes of weights one decode step reads: every matrix once; of the input embedding only one
// row, unless it doubles as the output head (tied), in which case it is read in full.
double weight_bytes_per_token(model::CausalLM& lm) {
    double bytes = 0;
    for (const auto& p : lm->named_parameters(true)) {
        if (p.key() == "model.embed_tokens.weight" && !lm->config().tie_word_embeddings) continue;
        bytes += static_cast<double>(p.value().numel()) * p.value().element_size();
    }
    return bytes;
}

}  // namespace

ordered_json run_decode_bench(const DecodeBenchOptions& o) {
    if (o.prompt_tokens < 1 || o.decode_tokens < 2)
        throw_invalid("need >= 1 prompt and >= 2 decode tokens");
    ordered_json out;
    out["bench"] = "decode";
    out["model"] = o.model_dir.empty() ? "preset:" + o.preset : o.model_dir;
    out["threads"] = at::get_num_threads();
    // Bandwidth on a shared machine drifts; it is sampled around every dtype's runs and the
    // highest sample sets the roofline, so the ratio errs low rather than high.
    std::vector<double> bandwidth_samples;
    auto sample_bandwidth = [&] {
        std::fprintf(stderr, "measuring read bandwidth (1 GiB streaming sum)...\n");
        bandwidth_samples.push_back(measure_read_bandwidth());
    };
    sample_bandwidth();
    ordered_json results = ordered_json::array();
    std::vector<double> bytes_per_token, decode_rates;

    for (auto dtype : o.dtypes) {
        const auto name = model::dtype_short_name(dtype);
        std::fprintf(stderr, "building the %s model...\n", name.c_str());
        model::CausalLM lm{nullptr};
        if (!o.model_dir.empty()) {
            lm = model::load_causal_lm(o.model_dir, {dtype, torch::kCPU});
        } else {
            auto cfg = model::preset_config(o.preset, std::nullopt, 32000);
            lm = model::CausalLM(cfg, torch::TensorOptions().dtype(dtype));
            model::init_random_weights(lm, o.seed);
        }
        const auto& cfg = lm->config();
        auto gen = at::detail::createCPUGenerator(o.seed);
        auto prompt_t = torch::randint(0, cfg.vocab_size, {o.prompt_tokens}, gen, torch::kInt64);
        std::vector<int64_t> prompt(prompt_t.data_ptr<int64_t>(),
                                    prompt_t.data_ptr<int64_t>() + o.prompt_tokens);

        infer::GenerationParams params;
        params.max_tokens = o.decode_tokens;
        params.sampling.temperature = 0;  // greedy: the decode loop without sampling noise
        double best_prefill = 1e30, best_decode = 1e30;
        std::fprintf(stderr, "%s: prefill %lld + decode %lld tokens, best of %d\n", name.c_str(),
                     static_cast<long long>(o.prompt_tokens),
                     static_cast<long long>(o.decode_tokens), o.repeats);
        for (int i = 0; i < o.repeats; ++i) {
            auto r = infer::generate(lm, prompt, params);
            if (static_cast<int64_t>(r.tokens.size()) != o.decode_tokens)
                throw Error(ErrorKind::internal, "decode stopped early");
            best_prefill = std::min(best_prefill, r.prefill_seconds);
            // decode_seconds spans decode_tokens samples and decode_tokens - 1 forward passes.
            best_decode =
                std::min(best_decode, r.decode_seconds / static_cast<double>(o.decode_tokens - 1));
        }
        sample_bandwidth();
        bytes_per_token.push_back(weight_bytes_per_token(lm));
        decode_rates.push_back(1.0 / best_decode);
        results.push_back({{"dtype", name},
                           {"parameters", model::count_parameters(cfg)},
                           {"weight_bytes_per_token", bytes_per_token.back()},
                           {"prefill_tokens", o.prompt_tokens},
                           {"prefill_tok_s", static_cast<double>(o.prompt_tokens) / best_prefill},
                           {"decode_tok_s", decode_rates.back()}});
    }
    const double bandwidth = *std::max_element(bandwidth_samples.begin(), bandwidth_samples.end());
    for (size_t i = 0; i < results.size(); ++i) {
        const double roofline = bandwidth / bytes_per_token[i];
        results[i]["roofline_decode_tok_s"] = roofline;
        results[i]["decode_vs_roofline"] = decode_rates[i] / roofline;
    }
    std::vector<double> gb;
    for (double b : bandwidth_samples)
        gb.push_back(b / 1e9);
    out["read_bandwidth_gb_s"] = bandwidth / 1e9;
    out["read_bandwidth_samples_gb_s"] = gb;
    out["results"] = results;
    return out;
}

}  // namespace llmtune::bench
