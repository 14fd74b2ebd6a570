"""Torch-free helpers of the GPU check (bench/gpu/check.sh): step results, the data and
training configs both sides train on, llmtune's events, FLOP counts and a safetensors reader.

Everything here runs without torch (python3 bench/gpu/gpu_common.py self-test), so the parts of
the check that need no GPU can be tried on the CPU machines.
"""

import json
import math
import os
import random
import struct
import sys

# Step statuses. A check passes or fails; a measurement is measured or fails; a step whose
# inputs are missing is not_run. Nothing else is ever written.
STATUSES = ("passed", "failed", "measured", "not_run")


def write_result(path, status, **fields):
    """Writes one step's result as JSON (atomically: a reader never sees half a file)."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    doc = {"status": status}
    doc.update(fields)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False, default=_jsonable)
        f.write("\n")
    os.replace(tmp, path)
    return doc


def _jsonable(x):
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)


def read_json(path):
    with open(path) as f:
        return json.load(f)


# ---- data -------------------------------------------------------------------------------

_WORDS = (
    "the of and to in is was for on that with as by at from his her they this which be "
    "are or an had not but were have one all their there been has when who will more no if "
    "out so said what up its about into than them can only other new some could time these "
    "two may then do first any my now such like our over man me even most made after also "
    "did many before must through back years where much your way well down should because "
    "each just those people how too little state good very make world still own see men "
    "work long get here between both life being under never day same another know while last "
    "might us great old year off come since against go came right used take three river "
    "mountain garden engine signal window market letter number silver forest harbour"
).split()


def make_texts(n, words_each, seed):
    """n pseudo-English texts of `words_each` words (deterministic for a seed)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        w = [rng.choice(_WORDS) for _ in range(words_each)]
        w[0] = w[0].capitalize()
        out.append(" ".join(w) + ".")
    return out


def write_text_jsonl(path, texts):
    with open(path, "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")


def eos_token_id(tokenizer_dir, tokenizer):
    """The id llmtune appends to a text record: tokenizer_config.json's eos_token
    (src/tokenizer/tokenizer_files.cpp), looked up in the tokenizer."""
    with open(os.path.join(tokenizer_dir, "tokenizer_config.json")) as f:
        cfg = json.load(f)
    eos = cfg.get("eos_token")
    if isinstance(eos, dict):
        eos = eos.get("content")
    if not eos:
        return None
    return tokenizer.token_to_id(eos)


def text_record_ids(tokenizer_dir, texts, max_seq_len):
    """The token ids llmtune trains on for text records (src/data/chat_encoding.cpp):
    encode with special tokens, append the eos unless already last, keep max_seq_len.
    Needs the `tokenizers` package (not torch)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(tokenizer_dir, "tokenizer.json"))
    eos = eos_token_id(tokenizer_dir, tok)
    rows = []
    for t in texts:
        ids = tok.encode(t, add_special_tokens=True).ids
        if eos is not None and (not ids or ids[-1] != eos):
            ids.append(eos)
        rows.append(ids[:max_seq_len])
    return rows


def random_ids(n, vocab, seed, below=None):
    """n token ids, uniform in [0, below or vocab): the logits checks' inputs."""
    rng = random.Random(seed)
    hi = min(vocab, below) if below else vocab
    return [rng.randrange(hi) for _ in range(n)]


def lora_train_config(path, model_dir, data_path, out_dir, *, device, dtype, r, alpha, max_seq_len,
                      batch_size, max_steps, lr, seed, max_grad_norm=1.0):
    """An llmtune training config (docs/config.md); JSON is valid YAML's subset llmtune reads
    as .json. Constant LR, no warmup, no weight decay: what the PEFT loop mirrors."""
    cfg = {
        "model": {"path": model_dir, "dtype": dtype, "device": device},
        "lora": {"r": r, "alpha": alpha, "dropout": 0.0, "target_modules": ["all-linear"]},
        "data": {"train": data_path, "max_seq_len": max_seq_len, "train_on_inputs": True},
        "training": {
            "method": "lora",
            "max_steps": max_steps,
            "batch_size": batch_size,
            "gradient_accumulation_steps": 1,
            "learning_rate": lr,
            "lr_scheduler_type": "constant",
            "warmup_steps": 0,
            "weight_decay": 0.0,
            "adam_beta1": 0.9,
            "adam_beta2": 0.999,
            "adam_epsilon": 1e-8,
            "max_grad_norm": max_grad_norm,
            "seed": seed,
        },
        "output": {"dir": out_dir},
    }
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return cfg


LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def train_events(out_dir):
    """The `train` events of an llmtune run (events.jsonl), in step order."""
    path = os.path.join(out_dir, "events.jsonl")
    events = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                events.append(json.loads(line))
    errors = [e for e in events if e.get("type") == "error"]
    if errors:
        raise RuntimeError("llmtune reported an error event: " + errors[-1].get("message", "?"))
    return [e for e in events if e.get("type") == "train"]


def steady_tokens_per_s(events, skip):
    """Tokens per second over the steps after the first `skip` (warm-up), from llmtune's own
    per-step token counts and elapsed times."""
    if len(events) <= skip + 1:
        raise ValueError(f"need more than {skip + 1} train events, got {len(events)}")
    first, rest = events[skip - 1] if skip > 0 else None, events[skip:]
    t0 = first["elapsed_s"] if first else 0.0
    seconds = rest[-1]["elapsed_s"] - t0
    tokens = sum(e["tokens"] for e in rest)
    if seconds <= 0:
        raise ValueError("non-positive elapsed time between steps")
    return tokens / seconds, tokens, seconds


def relative_differences(a, b):
    """Per-element |a - b| / max(|a|, |b|, 1e-12)."""
    return [abs(x - y) / max(abs(x), abs(y), 1e-12) for x, y in zip(a, b)]


# ---- FLOPs (the formula of src/train/flop_model.h, LoRA case) ----------------------------

def model_shape(config_json):
    c = config_json
    h = c["hidden_size"]
    nh = c["num_attention_heads"]
    nkv = c.get("num_key_value_heads", nh)
    hd = c.get("head_dim") or h // nh
    return {
        "hidden": h,
        "layers": c["num_hidden_layers"],
        "heads": nh,
        "kv_heads": nkv,
        "head_dim": hd,
        "intermediate": c["intermediate_size"],
        "vocab": c["vocab_size"],
    }


def projection_shapes(s):
    """(in, out) of the seven projections of one layer."""
    h, nh, nkv, hd, i = s["hidden"], s["heads"], s["kv_heads"], s["head_dim"], s["intermediate"]
    return {
        "q_proj": (h, nh * hd),
        "k_proj": (h, nkv * hd),
        "v_proj": (h, nkv * hd),
        "o_proj": (nh * hd, h),
        "gate_proj": (h, i),
        "up_proj": (h, i),
        "down_proj": (i, h),
    }


def lora_step_flops(config_json, r, rows, seq, targets_per_row=None):
    """Training FLOPs of one LoRA step on `rows` rows of `seq` positions (all positions real),
    every projection adapted, as src/train/flop_model.h counts them:
      frozen projections 4n per token, adapters 6 r (in + out) per token,
      attention 12 L nh hd T per token (the whole T x T square),
      lm_head (frozen) 4 V H per target token (targets: seq - 1 per row by default)."""
    s = model_shape(config_json)
    shapes = projection_shapes(s)
    frozen = sum(i * o for i, o in shapes.values())
    adapters = sum(r * (i + o) for i, o in shapes.values())
    per_token = s["layers"] * (4 * frozen + 6 * adapters) + 12 * s["layers"] * s["heads"] * s["head_dim"] * seq
    targets = (seq - 1) if targets_per_row is None else targets_per_row
    lm_head = 4 * s["vocab"] * s["hidden"]
    return rows * (seq * per_token + targets * lm_head)


# ---- safetensors (read only, for comparing adapters without torch) ----------------------

_DTYPES = {"F32": ("f", 4), "F64": ("d", 8), "I64": ("q", 8), "I32": ("i", 4)}


def read_safetensors(path):
    """{name: (dtype, shape, raw bytes)}."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = (v["dtype"], v["shape"], data[base + a:base + b])
    return out


def safetensors_values(entry):
    dtype, _, raw = entry
    if dtype not in _DTYPES:
        raise ValueError(f"dtype {dtype} not readable here")
    code, size = _DTYPES[dtype]
    return struct.unpack("<%d%s" % (len(raw) // size, code), raw)


# ---- self-test: the torch-free parts, runnable on any machine ---------------------------

def _self_test():
    texts = make_texts(3, 20, seed=1)
    assert texts == make_texts(3, 20, seed=1) and texts != make_texts(3, 20, seed=2)
    assert all(len(t.split()) == 20 for t in texts)
    ids = random_ids(10, 100, seed=3, below=50)
    assert len(ids) == 10 and all(0 <= i < 50 for i in ids)
    ev = [{"step": i + 1, "tokens": 100, "elapsed_s": 1.0 + i} for i in range(5)]
    tps, tok, sec = steady_tokens_per_s(ev, skip=2)
    assert tok == 300 and abs(sec - 3.0) < 1e-9 and abs(tps - 100.0) < 1e-9, (tps, tok, sec)
    assert max(relative_differences([1.0, 2.0], [1.0, 2.002])) < 1.01e-3
    # Qwen2.5-0.5B's shape: 494M parameters, 136M of them in the tied embedding.
    cfg = {"hidden_size": 896, "num_attention_heads": 14, "num_key_value_heads": 2,
           "num_hidden_layers": 24, "intermediate_size": 4864, "vocab_size": 151936}
    s = model_shape(cfg)
    per_layer = sum(i * o for i, o in projection_shapes(s).values())
    assert s["head_dim"] == 64 and per_layer * 24 == 357_826_560, per_layer * 24
    f = lora_step_flops(cfg, r=16, rows=1, seq=2)
    expect = 2 * (24 * (4 * per_layer + 6 * sum(16 * (i + o) for i, o in projection_shapes(s).values()))
                  + 12 * 24 * 14 * 64 * 2) + 1 * 4 * 151936 * 896
    assert f == expect, (f, expect)
    print("gpu_common self-test: ok")


if __name__ == "__main__":
    if sys.argv[1:] == ["self-test"]:
        _self_test()
    else:
        print("usage: gpu_common.py self-test", file=sys.stderr)
        sys.exit(2)
