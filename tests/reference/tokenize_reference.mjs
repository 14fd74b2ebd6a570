// Reference tokenization for llmtune's tokenizer tests, computed at test time by independent
// implementations: @lenml/tokenizers (a JavaScript port of Hugging Face tokenizers, the same
// code as transformers.js) and, for GPT-2, OpenAI's encoder as packaged in gpt-3-encoder.
//
// usage: node tokenize_reference.mjs --tokenizer DIR_OR_TOKENIZER_JSON
//            [--corpus N | --texts FILE.json] [--ids FILE.json] [--engine lenml|gpt3]
//            [--out FILE.json] [--time-mb MB --text-out FILE]
//
//   --corpus N     the generated parity corpus (tokenizer_corpus.mjs), at least N strings
//   --texts FILE   a JSON array of strings to encode
//   --ids FILE     a JSON array of id arrays to decode (reported under "decodes")
//   --engine gpt3  use gpt-3-encoder instead of @lenml/tokenizers (GPT-2 vocabulary only)
//   --time-mb MB   time encoding a text of about MB megabytes built from a long generated
//                  corpus (one call, after a warm-up on its first 100 kB), and write that
//                  text to --text-out so that llmtune can be timed on the same bytes
//
// Output (stdout or --out): {"texts": [...], "results": [{"ids", "ids_plain", "decoded",
// "decoded_skip", "decoded_clean", "nfc_stable"}], "decodes": [{"decoded", "decoded_skip"}],
// "timing": {...}} where ids has add_special_tokens=true, ids_plain false; decoding cleans up
// spaces (transformers' clean_up_tokenization) only in decoded_clean (lenml engine only).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { TokenizerLoader } from "@lenml/tokenizers";
import { buildCorpus } from "./tokenizer_corpus.mjs";

const require = createRequire(import.meta.url);

function parseArgs(argv) {
  const args = { engine: "lenml" };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    if (!key.startsWith("--")) throw new Error(`unexpected argument ${key}`);
    args[key.slice(2).replace(/-/g, "_")] = argv[++i];
  }
  if (!args.tokenizer && args.engine !== "gpt3") throw new Error("--tokenizer is required");
  return args;
}

function loadLenml(where) {
  const file = fs.statSync(where).isDirectory() ? path.join(where, "tokenizer.json") : where;
  const configFile = path.join(path.dirname(file), "tokenizer_config.json");
  const tokenizerJSON = JSON.parse(fs.readFileSync(file, "utf8"));
  const tokenizerConfig = fs.existsSync(configFile)
    ? JSON.parse(fs.readFileSync(configFile, "utf8"))
    : {};
  // The reference warns on stderr about unknown tokenizer classes; that is expected here.
  const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
  const decode = (ids, skip, cleanUp = false) =>
    ids.length === 0
      ? ""
      : tok.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: cleanUp });
  return {
    encode: (text, special) => tok.encode(text, { add_special_tokens: special }),
    decode,
    cleanUp: (ids) => decode(ids, false, true),
  };
}

function loadGpt3() {
  const enc = require("gpt-3-encoder");
  return {
    encode: (text) => enc.encode(text),
    decode: (ids) => enc.decode(ids),
  };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const engine = args.engine === "gpt3" ? loadGpt3() : loadLenml(args.tokenizer);
  const output = {};

  let texts = [];
  if (args.corpus) texts = buildCorpus(Number(args.corpus));
  if (args.texts) texts = JSON.parse(fs.readFileSync(args.texts, "utf8"));
  output.texts = texts;
  output.results = texts.map((text) => {
    const ids = engine.encode(text, true);
    const idsPlain = engine.encode(text, false);
    return {
      ids,
      ids_plain: idsPlain,
      decoded: engine.decode(ids, false),
      decoded_skip: engine.decode(ids, true),
      ...(engine.cleanUp ? { decoded_clean: engine.cleanUp(ids) } : {}),
      nfc_stable: text.normalize("NFC") === text,
    };
  });

  if (args.ids) {
    const lists = JSON.parse(fs.readFileSync(args.ids, "utf8"));
    output.decodes = lists.map((ids) => ({
      decoded: engine.decode(ids, false),
      decoded_skip: engine.decode(ids, true),
    }));
  }

  if (args.time_mb) {
    const target = Number(args.time_mb) * 1024 * 1024;
    // A long generated corpus (few repeats), joined by newlines up to the target size.
    const corpus = buildCorpus(Math.ceil(target / 50));
    const parts = [];
    let bytes = 0;
    for (let i = 0; bytes < target; i++) {
      const s = corpus[i % corpus.length] + "\n";
      parts.push(s);
      bytes += Buffer.byteLength(s, "utf8");
    }
    const text = parts.join("");
    if (args.text_out) fs.writeFileSync(args.text_out, text, "utf8");
    engine.encode(text.slice(0, 100000), false);  // warm-up (JIT)
    const t0 = process.hrtime.bigint();
    const ids = engine.encode(text, false);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    output.timing = { bytes, seconds, tokens: ids.length, mb_per_s: bytes / 1e6 / seconds };
  }

  const json = JSON.stringify(output);
  if (args.out) fs.writeFileSync(args.out, json, "utf8");
  else process.stdout.write(json);
}

main();
