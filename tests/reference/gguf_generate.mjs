// Loads a GGUF file in real llama.cpp (through node-llama-cpp's prebuilt CPU binaries, offline),
// tokenizes texts and greedy-generates from a prompt given as token ids. Prints one JSON object:
//   {"tokenize": [[ids...], ...], "generated": [ids...], "add_bos": bool,
//    "bos": id|null, "eos": id|null}
// Usage: node gguf_generate.mjs MODEL.gguf --texts FILE.json --prompt-ids 1,2,3 --max-tokens N
// FILE.json holds an array of strings. Tokenization parses special-token text (as Hugging Face
// tokenizers always do) and adds no BOS/EOS, so it compares with encode(text, false).
import fs from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const args = process.argv.slice(2);
const modelPath = args[0];
const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
};
const texts = opt("--texts") ? JSON.parse(fs.readFileSync(opt("--texts"), "utf8")) : [];
const promptIds = (opt("--prompt-ids", "") || "").split(",").filter((s) => s !== "").map(Number);
const maxTokens = Number(opt("--max-tokens", "0"));

const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const out = {
    tokenize: texts.map((t) => Array.from(model.tokenize(t, true))),
    generated: [],
    add_bos: model.tokens.shouldPrependBosToken,
    bos: model.tokens.bos ?? null,
    eos: model.tokens.eos ?? null,
};
if (promptIds.length > 0 && maxTokens > 0) {
    const context = await model.createContext({contextSize: Math.max(256, promptIds.length + maxTokens + 8), threads: 2});
    const sequence = context.getSequence();
    // Greedy: temperature 0, no repetition penalty; stops only after maxTokens (EOS included).
    for await (const token of sequence.evaluate(promptIds, {temperature: 0})) {
        out.generated.push(token);
        if (out.generated.length >= maxTokens) break;
    }
    await context.dispose();
}
await model.dispose();
process.stdout.write(JSON.stringify(out) + "\n");
