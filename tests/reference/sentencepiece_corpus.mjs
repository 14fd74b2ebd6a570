// Texts for llmtune's SentencePiece tests: a training text for spm_train and the strings to
// compare with spm_encode / spm_decode. Both tools read one sentence per line, so every string
// is a single line: the parity corpus (tokenizer_corpus.mjs) with multi-line texts cut at "\n".
//
// usage: node sentencepiece_corpus.mjs --texts OUT.json --train OUT.txt [--count N]
//
//   --texts  a JSON array of distinct one-line strings from the first N corpus texts (N = 2000)
//   --train  training text: the lines of 3N corpus texts from another seed, then the test lines
import fs from "node:fs";
import { buildCorpus } from "./tokenizer_corpus.mjs";

function parseArgs(argv) {
  const args = { count: "2000" };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    if (!key.startsWith("--")) throw new Error(`unexpected argument ${key}`);
    args[key.slice(2)] = argv[++i];
  }
  if (!args.texts || !args.train) throw new Error("--texts and --train are required");
  return args;
}

function lines(texts) {
  const seen = new Set();
  const out = [];
  for (const text of texts)
    for (const line of text.split("\n"))
      if (!seen.has(line)) {
        seen.add(line);
        out.push(line);
      }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const n = Number(args.count);
const texts = lines(buildCorpus(n));
const training = lines(buildCorpus(3 * n, 777)).concat(texts).filter((l) => l.length > 0);
fs.writeFileSync(args.texts, JSON.stringify(texts));
fs.writeFileSync(args.train, training.join("\n") + "\n");
