// Renders chat templates with @huggingface/jinja, Hugging Face's JavaScript implementation,
// as the independent reference for llmtune's Jinja engine (tests/unit/jinja).
//
// usage: node render_chat_template.mjs REQUEST.json
//   REQUEST.json: {"template": "...", "cases": [{"messages": [...],
//                  "add_generation_prompt": bool, "bos_token": "...", "eos_token": "...",
//                  "tools": [...] (optional), "extra": {...} (optional)}, ...]}
// prints a JSON array with, per case, {"ok": true, "text": "..."} or {"ok": false,
// "error": "..."}.
//
// The context is built as llmtune's ChatTemplate::render builds it: empty bos/eos tokens and
// null tools are left undefined; extra variables are added last. @huggingface/jinja defines
// raise_exception and strftime_now itself, as transformers does.
import { readFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";

const request = JSON.parse(readFileSync(process.argv[2], "utf8"));
let template = null;
let parseError = null;
try {
  template = new Template(request.template);
} catch (e) {
  parseError = String(e && e.message ? e.message : e);
}

const results = request.cases.map((c) => {
  if (parseError !== null) return { ok: false, error: `parse: ${parseError}` };
  const ctx = { messages: c.messages, add_generation_prompt: !!c.add_generation_prompt };
  if (c.bos_token) ctx.bos_token = c.bos_token;
  if (c.eos_token) ctx.eos_token = c.eos_token;
  if (c.tools !== undefined && c.tools !== null) ctx.tools = c.tools;
  for (const [k, v] of Object.entries(c.extra ?? {})) ctx[k] = v;
  try {
    return { ok: true, text: template.render(ctx) };
  } catch (e) {
    return { ok: false, error: String(e && e.message ? e.message : e) };
  }
});
process.stdout.write(JSON.stringify(results));
