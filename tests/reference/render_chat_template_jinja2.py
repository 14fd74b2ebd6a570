"""Renders chat templates with Python's Jinja2 configured exactly as transformers'
apply_chat_template configures it, as the second reference for llmtune's Jinja engine.

usage: python3 render_chat_template_jinja2.py REQUEST.json
Same request and output format as render_chat_template.mjs.

transformers (utils/chat_template_utils.py) compiles templates in an
ImmutableSandboxedEnvironment with trim_blocks=True, lstrip_blocks=True and the
loopcontrols extension, replaces the tojson filter with json.dumps(ensure_ascii=False,
sort_keys=False), and adds the globals raise_exception and strftime_now. The
{% generation %} tag of its AssistantTracker extension is rendered here as its body.
"""
import json
import sys
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationTag(jinja2.ext.Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def strftime_now(format):
    return datetime.now().strftime(format)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        request = json.load(f)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    results = []
    try:
        template = env.from_string(request["template"])
        parse_error = None
    except Exception as e:  # noqa: BLE001 - reported to the test
        template, parse_error = None, f"parse: {type(e).__name__}: {e}"
    for c in request["cases"]:
        if parse_error:
            results.append({"ok": False, "error": parse_error})
            continue
        ctx = {"messages": c["messages"], "add_generation_prompt": bool(c.get("add_generation_prompt"))}
        if c.get("bos_token"):
            ctx["bos_token"] = c["bos_token"]
        if c.get("eos_token"):
            ctx["eos_token"] = c["eos_token"]
        if c.get("tools") is not None:
            ctx["tools"] = c["tools"]
        ctx.update(c.get("extra") or {})
        try:
            results.append({"ok": True, "text": template.render(**ctx)})
        except Exception as e:  # noqa: BLE001
            results.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
    sys.stdout.write(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
