"""Merges the step results of bench/gpu/check.sh into one summary.json, with the issue's
targets evaluated from the measured numbers (a target whose numbers are missing is reported
as not evaluated, never as met). Torch-free: `python3 summarize.py self-test` runs anywhere.
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_common as gc  # noqa: E402

SPEEDUP_TARGET = 1.5   # >= 1.5x PEFT's LoRA tokens/s (stretch 2x)
SPEEDUP_STRETCH = 2.0
MFU_TARGET = 0.35      # on the 0.5B shape
CHECKS = ("build", "logits_tiny", "logits_qwen05", "lora_parity", "interop")


def load_steps(results, names):
    steps = {}
    for n in names:
        p = os.path.join(results, n + ".json")
        if os.path.exists(p):
            d = gc.read_json(p)
            if d.get("status") in ("passed", "measured"):
                d.pop("log_tail", None)  # keep the summary short where nothing went wrong
            steps[n] = d
        else:
            steps[n] = {"status": "not_run", "cause": "the step left no result (not selected, or "
                                                      "the check stopped before it)"}
    return steps


def target(value, goal, higher_is_better=True):
    if value is None:
        return {"value": None, "target": goal, "met": None, "note": "not evaluated: not measured"}
    met = value >= goal if higher_is_better else value <= goal
    return {"value": value, "target": goal, "met": met}


def evaluate(steps):
    t = {}
    for seq in (1024, 2048):
        s = steps.get(f"throughput_{seq}", {})
        sp = s.get("speedup_vs_peft") if s.get("status") == "measured" else None
        e = target(sp, SPEEDUP_TARGET)
        e["stretch_met"] = None if sp is None else sp >= SPEEDUP_STRETCH
        e["llmtune_tokens_per_s"] = s.get("llmtune", {}).get("tokens_per_s")
        e["peft_tokens_per_s"] = s.get("peft", {}).get("tokens_per_s")
        t[f"lora_speedup_vs_peft_seq{seq}"] = e
        mfu = s.get("llmtune", {}).get("mfu") if s.get("status") == "measured" else None
        m = target(mfu, MFU_TARGET)
        m["peft_mfu"] = s.get("peft", {}).get("mfu")
        m["peak_bf16_tflops"] = s.get("peak_bf16_tflops_measured")
        t[f"mfu_qwen2.5-0.5b_seq{seq}"] = m
    checks = {c: steps.get(c, {}).get("status", "not_run") for c in CHECKS}
    t["parity_checks"] = {"statuses": checks,
                          "met": all(v == "passed" for v in checks.values())
                          if all(v in ("passed", "failed") for v in checks.values()) else
                          (False if any(v == "failed" for v in checks.values()) else None)}
    d = steps.get("decode", {})
    t["decode_ratio_llmtune_over_transformers"] = d.get("ratio_llmtune_over_transformers")
    return t


def parse_machine(path):
    if not path or not os.path.exists(path):
        return None
    with open(path, errors="replace") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def summarize(results, names, machine, budget, elapsed):
    steps = load_steps(results, names)
    env = steps.get("env", {})
    return {
        "issue": 10,
        "what": "llmtune on CUDA: build, parity with transformers/PEFT, LoRA and decode speed",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "gpu": env.get("gpu"),
        "versions": {k: env.get(k) for k in ("torch", "torch_cuda", "transformers", "peft",
                                             "tokenizers", "python")},
        "machine": parse_machine(machine),
        "budget_s": budget,
        "elapsed_s": elapsed,
        "within_budget": elapsed <= budget,
        "counts": {s: sum(1 for v in steps.values() if v.get("status") == s) for s in gc.STATUSES},
        "targets": evaluate(steps),
        "steps": steps,
    }


def print_brief(doc):
    print(f"summary: {doc['counts']}, {doc['elapsed_s']} s of {doc['budget_s']} s")
    for name, s in doc["steps"].items():
        cause = s.get("cause")
        print(f"  {name:16s} {s.get('status'):9s} {('- ' + str(cause)[:150]) if cause else ''}")
    for k, v in doc["targets"].items():
        print(f"  target {k}: {json.dumps(v, default=str)[:200]}")


def _self_test():
    with tempfile.TemporaryDirectory() as d:
        gc.write_result(os.path.join(d, "build.json"), "passed")
        gc.write_result(os.path.join(d, "logits_tiny.json"), "failed", cause="x", log_tail="...")
        gc.write_result(os.path.join(d, "throughput_1024.json"), "measured", speedup_vs_peft=1.6,
                        llmtune={"tokens_per_s": 16.0, "mfu": 0.3}, peft={"tokens_per_s": 10.0})
        gc.write_result(os.path.join(d, "throughput_2048.json"), "failed", cause="llmtune: crashed",
                        peft={"tokens_per_s": 5.0})
        doc = summarize(d, ["build", "logits_tiny", "throughput_1024", "throughput_2048", "decode"],
                        None, 480, 100)
        t = doc["targets"]
        assert t["lora_speedup_vs_peft_seq1024"]["met"] is True
        assert t["lora_speedup_vs_peft_seq1024"]["stretch_met"] is False
        assert t["mfu_qwen2.5-0.5b_seq1024"]["met"] is False
        assert t["lora_speedup_vs_peft_seq2048"]["met"] is None  # failed: not evaluated, not met
        assert t["parity_checks"]["met"] is False  # one failed
        assert doc["steps"]["decode"]["status"] == "not_run"
        assert doc["steps"]["logits_tiny"]["log_tail"] == "..."  # failures keep their log
        assert doc["counts"] == {"passed": 1, "failed": 2, "measured": 1, "not_run": 1}
        json.dumps(doc)
    print("summarize self-test: ok")


def main():
    if sys.argv[1:] == ["self-test"]:
        _self_test()
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", required=True)
    p.add_argument("--steps", required=True, help="space-separated step names, in order")
    p.add_argument("--machine")
    p.add_argument("--budget", type=int, required=True)
    p.add_argument("--elapsed", type=int, required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    doc = summarize(a.results, a.steps.split(), a.machine, a.budget, a.elapsed)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, default=str)
        f.write("\n")
    os.replace(tmp, a.out)
    print_brief(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
