// Reference for llmtune's chat encoding (tests/unit/data/chat_encoding_test.cpp): the token ids
// of a rendered conversation and which tokens carry loss, computed independently with
// @huggingface/jinja (rendering) and @lenml/tokenizers (tokenization).
//
// usage: node assistant_mask.mjs REQUEST.json
//   REQUEST.json: {"tokenizer": DIR, "chat_template": "..." (optional; default: the one in
//                  DIR/tokenizer_config.json), "cases": [{"messages": [...], "tools": [...]?,
//                  "train_on_inputs": bool?, "honour_weights": bool? (default true),
//                  "end_of_turn": "..."?}, ...]}
// prints a JSON array with, per case, {"ok": true, "text", "ids", "trained"} or
// {"ok": false, "error"}.
//
// Method (deliberately different from llmtune's where it can be):
// - Assistant message i spans, in the full render, from the end of the render of messages[:i]
//   with the generation prompt to the end of the render of messages[:i+1]; when that render is
//   not a prefix of the full one (Qwen3 drops <think> from earlier turns), to the end of the
//   first "end_of_turn" text (given by the case) after the message's content, searched for in
//   the full render.
// - Token character offsets come from the token strings themselves: byte-level tokens are
//   mapped back to bytes with the GPT-2 byte table, SentencePiece-style tokens by turning "▁"
//   into a space, <0xNN> into the byte, and removing the "▁" the normalizer prepends to each
//   piece of text between special tokens. The offsets must rebuild the text byte for byte.
// - A token is trained when any of its bytes is trained (transformers'
//   return_assistant_tokens_mask rule).
import fs from "node:fs";
import path from "node:path";
import { Template } from "@huggingface/jinja";
import { TokenizerLoader } from "@lenml/tokenizers";

const request = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const dir = request.tokenizer;
const tokenizerJSON = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
const config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig: config });
const special = (v) => (v && typeof v === "object" ? v.content : v);
const template = new Template(request.chat_template ?? config.chat_template);

// GPT-2's reversible byte <-> printable character table.
function byteDecoder() {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++)
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  const out = new Map();
  bs.forEach((b, i) => out.set(String.fromCodePoint(cs[i]), b));
  return out;
}
const byteLevel = JSON.stringify(tokenizerJSON.pre_tokenizer ?? {}).includes('"ByteLevel"');
const bytesOfChar = byteDecoder();
const added = new Map(tokenizerJSON.added_tokens.map((t) => [t.id, t.content]));
const vocab = tokenizerJSON.model.vocab;
const idToToken = new Map(Object.entries(vocab).map(([k, v]) => [v, k]));

function tokenBytes(ids) {
  const out = [];
  let pieceStart = true;  // SentencePiece style: the normalizer prepends "▁" to each piece
  for (const id of ids) {
    if (added.has(id)) {
      out.push(Buffer.from(added.get(id), "utf8"));
      pieceStart = true;
      continue;
    }
    const s = idToToken.get(id);
    if (byteLevel) {
      out.push(Buffer.from([...s].map((c) => bytesOfChar.get(c))));
    } else {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(s);
      let b = m ? Buffer.from([parseInt(m[1], 16)]) : Buffer.from(s.replace(/▁/g, " "), "utf8");
      if (pieceStart && !m) {
        if (b[0] !== 0x20) throw new Error(`piece does not start with the prepended space: ${s}`);
        b = b.subarray(1);
      }
      out.push(b);
    }
    pieceStart = false;
  }
  return out;
}

function render(messages, tools, addGenerationPrompt) {
  const ctx = { messages, add_generation_prompt: addGenerationPrompt };
  const bos = special(config.bos_token), eos = special(config.eos_token);
  if (bos) ctx.bos_token = bos;
  if (eos) ctx.eos_token = eos;
  if (tools) ctx.tools = tools;
  return template.render(ctx);
}

function runCase(c) {
  const honour = c.honour_weights ?? true;
  const messages = c.messages.map(({ weight, ...rest }) => rest);
  const full = render(messages, c.tools, false);
  // Per UTF-16 unit of `full`: trained or not.
  const label = new Array(full.length).fill(!!c.train_on_inputs);
  c.messages.forEach((m, i) => {
    if (m.role !== "assistant") return;
    const before = render(messages.slice(0, i), c.tools, true);
    if (!full.startsWith(before)) throw new Error(`message ${i}: prefix with generation prompt`);
    const through = render(messages.slice(0, i + 1), c.tools, false);
    let end;
    if (full.startsWith(through)) {
      end = through.length;
    } else {
      const content = m.content ?? "";
      const at = full.indexOf(content, before.length);
      if (at < 0 || c.end_of_turn === undefined) throw new Error(`message ${i}: content not found`);
      end = full.indexOf(c.end_of_turn, at + content.length);
      if (end < 0) throw new Error(`message ${i}: end_of_turn not found`);
      end += c.end_of_turn.length;
    }
    const trained = !(honour && m.weight === 0);
    for (let k = before.length; k < end; k++) label[k] = trained;
  });
  // Per byte of the UTF-8 text.
  const byteLabel = [];
  for (let k = 0; k < full.length; ) {
    const cp = full.codePointAt(k);
    const units = cp > 0xffff ? 2 : 1;
    const n = Buffer.byteLength(String.fromCodePoint(cp), "utf8");
    for (let j = 0; j < n; j++) byteLabel.push(label[k]);
    k += units;
  }
  const ids = tok.encode(full, { add_special_tokens: false });
  const pieces = tokenBytes(ids);
  const rebuilt = Buffer.concat(pieces);
  if (!rebuilt.equals(Buffer.from(full, "utf8")))
    throw new Error("token offsets do not rebuild the text");
  const trained = [];
  let at = 0;
  for (const p of pieces) {
    if (p.length === 0) throw new Error("a token covers no text");
    let t = false;
    for (let j = at; j < at + p.length; j++) t = t || byteLabel[j];
    trained.push(t ? 1 : 0);
    at += p.length;
  }
  return { ok: true, text: full, ids, trained };
}

const results = request.cases.map((c) => {
  try {
    return runCase(c);
  } catch (e) {
    return { ok: false, error: String(e && e.message ? e.message : e) };
  }
});
process.stdout.write(JSON.stringify(results));
