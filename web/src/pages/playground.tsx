// Playground: chat with any model or checkpoint, tokens streamed as they are generated, with
// sampling controls; side by side, two models answer the same prompt at once.
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, streamSse, type Checkpoint, type Job, type ListPage, type ModelObject } from '../api';
import { ErrorBox } from '../components/error_box';
import { useLoad } from '../components/use_load';
import { count } from '../format';

interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

interface Pane {
  model: string;
  messages: Message[];
  streaming: string | null; // the reply being generated
  error: unknown;
  info: string | null; // finish reason and usage of the last reply
}

interface Sampling {
  temperature: string;
  top_p: string;
  max_tokens: string;
  seed: string;
}

interface ModelChoice {
  id: string;
  label: string;
  group: 'Base models' | 'Fine-tuned models' | 'Checkpoints';
}

// Base and fine-tuned models, and the checkpoints of recent jobs.
async function loadChoices(signal: AbortSignal): Promise<ModelChoice[]> {
  const [models, jobs] = await Promise.all([
    get<ListPage<ModelObject>>('/models', signal),
    get<ListPage<Job>>('/fine_tuning/jobs?limit=20', signal),
  ]);
  const out: ModelChoice[] = [];
  for (const m of models.data) {
    if (m.llmtune?.usable === false) continue;
    if (m.llmtune?.checkpoint) {
      out.push({ id: m.id, label: `${m.id}${m.llmtune.step != null ? ` (step ${m.llmtune.step})` : ''}`, group: 'Checkpoints' });
      continue;
    }
    const tuned = !!m.llmtune?.fine_tuned;
    out.push({ id: m.id, label: m.id + (m.llmtune?.randomly_initialized ? ' (randomly initialized)' : ''), group: tuned ? 'Fine-tuned models' : 'Base models' });
  }
  const withCkpts = jobs.data.filter((j) => j.status !== 'validating_files' && j.status !== 'queued').slice(0, 10);
  const lists = await Promise.all(
    withCkpts.map((j) => get<ListPage<Checkpoint>>(`/fine_tuning/jobs/${encodeURIComponent(j.id)}/checkpoints?limit=20`, signal).catch(() => null)),
  );
  for (const l of lists)
    for (const c of l?.data ?? [])
      if (!out.some((o) => o.id === c.fine_tuned_model_checkpoint))
        out.push({ id: c.fine_tuned_model_checkpoint, label: `${c.fine_tuned_model_checkpoint} (step ${c.step_number})`, group: 'Checkpoints' });
  return out;
}

function ModelSelect({ id, label, value, choices, onChange }: { id: string; label: string; value: string; choices: ModelChoice[]; onChange: (v: string) => void }) {
  const groups = ['Fine-tuned models', 'Base models', 'Checkpoints'] as const;
  const known = choices.some((c) => c.id === value);
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {!known && value ? <option value={value}>{value}</option> : null}
        {groups.map((g) => {
          const items = choices.filter((c) => c.group === g);
          return items.length ? (
            <optgroup key={g} label={g}>
              {items.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.label}
                </option>
              ))}
            </optgroup>
          ) : null;
        })}
      </select>
    </div>
  );
}

const emptyPane = (model: string): Pane => ({ model, messages: [], streaming: null, error: null, info: null });

export function Playground({ query }: { query: URLSearchParams }) {
  const choices = useLoad(loadChoices, []);
  const initial = query.get('model') ?? '';
  const compare = query.get('compare');
  const [sideBySide, setSideBySide] = useState(!!compare);
  const [panes, setPanes] = useState<Pane[]>(() => [emptyPane(compare ?? initial), emptyPane(initial)]);
  const [system, setSystem] = useState('');
  const [prompt, setPrompt] = useState('');
  const [sampling, setSampling] = useState<Sampling>({ temperature: '0.7', top_p: '1', max_tokens: '256', seed: '' });
  const [formError, setFormError] = useState<string | null>(null);
  const controllers = useRef<AbortController[]>([]);

  // Pick models once the list is there: the requested one, else the first fine-tuned, else a base.
  useEffect(() => {
    const list = choices.data;
    if (!list || list.length === 0) return;
    const firstTuned = list.find((c) => c.group === 'Fine-tuned models')?.id;
    const firstBase = list.find((c) => c.group === 'Base models')?.id;
    setPanes((ps) => [
      { ...ps[0], model: ps[0].model || (sideBySide ? firstBase : firstTuned ?? firstBase) || '' },
      { ...ps[1], model: ps[1].model || firstTuned || firstBase || '' },
    ]);
  }, [choices.data]);
  useEffect(() => () => controllers.current.forEach((c) => c.abort()), []);

  const active = sideBySide ? [0, 1] : [1];
  const busy = panes.some((p) => p.streaming !== null);
  const patch = (i: number, f: (p: Pane) => Pane) => setPanes((ps) => ps.map((p, k) => (k === i ? f(p) : p)));

  function params(): Record<string, number> | null {
    const out: Record<string, number> = {};
    const read = (k: keyof Sampling, name: string, lo: number, hi: number, integer: boolean, optional = false) => {
      const v = sampling[k].trim();
      if (!v && optional) return true;
      const n = Number(v);
      if (!v || !Number.isFinite(n) || n < lo || n > hi || (integer && !Number.isInteger(n))) {
        setFormError(`${name} must be ${integer ? 'a whole number' : 'a number'} from ${lo} to ${hi}.`);
        return false;
      }
      out[k] = n;
      return true;
    };
    if (!read('temperature', 'Temperature', 0, 2, false)) return null;
    if (!read('top_p', 'Top p', 0, 1, false)) return null;
    if (!read('max_tokens', 'Max tokens', 1, 1_000_000, true)) return null;
    if (!read('seed', 'Seed', 0, 2 ** 53, true, true)) return null;
    return out;
  }

  async function ask(i: number, messages: Message[], p: Record<string, number>) {
    const c = new AbortController();
    controllers.current.push(c);
    const model = panes[i].model;
    patch(i, (x) => ({ ...x, messages, streaming: '', error: null, info: null }));
    let text = '';
    let finish: string | null = null;
    let usage: { completion_tokens: number; prompt_tokens: number } | null = null;
    try {
      const body = [...(system.trim() ? [{ role: 'system', content: system.trim() }] : []), ...messages];
      await streamSse(
        'POST',
        '/chat/completions',
        { model, messages: body, ...p, stream: true, stream_options: { include_usage: true } },
        (chunk) => {
          if (chunk.usage) usage = chunk.usage;
          for (const ch of chunk.choices ?? []) {
            if (ch.delta?.content) text += ch.delta.content;
            if (ch.finish_reason) finish = ch.finish_reason;
          }
          patch(i, (x) => ({ ...x, streaming: text }));
        },
        c.signal,
      );
      const u = usage as { completion_tokens: number; prompt_tokens: number } | null;
      patch(i, (x) => ({
        ...x,
        messages: [...messages, { role: 'assistant', content: text }],
        streaming: null,
        info: `${finish === 'length' ? 'stopped at the token limit' : finish === 'stop' ? 'finished' : 'ended'}${u ? ` · ${count(u.prompt_tokens)} prompt + ${count(u.completion_tokens)} generated tokens` : ''}`,
      }));
    } catch (e) {
      const stopped = c.signal.aborted;
      patch(i, (x) => ({
        ...x,
        messages: text ? [...messages, { role: 'assistant', content: text }] : messages,
        streaming: null,
        error: stopped ? null : e,
        info: stopped ? 'stopped' : null,
      }));
    } finally {
      controllers.current = controllers.current.filter((x) => x !== c);
    }
  }

  function send(e?: Event) {
    e?.preventDefault();
    setFormError(null);
    const text = prompt.trim();
    if (!text) {
      setFormError('Type a message first.');
      return;
    }
    const p = params();
    if (!p) return;
    for (const i of active)
      if (!panes[i].model) {
        setFormError('Choose a model.');
        return;
      }
    setPrompt('');
    for (const i of active) ask(i, [...panes[i].messages, { role: 'user', content: text }], p);
  }

  const sample = (k: keyof Sampling) => ({
    id: `s-${k}`,
    value: sampling[k],
    onInput: (e: Event) => setSampling((s) => ({ ...s, [k]: (e.target as HTMLInputElement).value })),
  });

  return (
    <section class="page playground">
      <div class="page-head">
        <h1>Playground</h1>
        <label class="inline-check">
          <input type="checkbox" checked={sideBySide} onChange={(e) => setSideBySide((e.target as HTMLInputElement).checked)} /> Side by side
        </label>
      </div>
      <ErrorBox error={choices.error} />
      <div class="sampling">
        <div class="field">
          <label for="s-temperature">Temperature</label>
          <input type="number" min={0} max={2} step={0.1} {...sample('temperature')} aria-describedby="s-help" />
        </div>
        <div class="field">
          <label for="s-top_p">Top p</label>
          <input type="number" min={0} max={1} step={0.05} {...sample('top_p')} aria-describedby="s-help" />
        </div>
        <div class="field">
          <label for="s-max_tokens">Max tokens</label>
          <input type="number" min={1} {...sample('max_tokens')} />
        </div>
        <div class="field">
          <label for="s-seed">Seed</label>
          <input type="number" min={0} placeholder="random" {...sample('seed')} />
        </div>
        <p class="help" id="s-help">
          Temperature 0 always picks the likeliest token (same answer every time); higher is more varied. Top p keeps only the likeliest
          tokens that add up to p.
        </p>
      </div>
      <details class="system-prompt">
        <summary>System prompt</summary>
        <label for="system" class="visually-hidden">
          System prompt
        </label>
        <textarea id="system" rows={2} value={system} onInput={(e) => setSystem((e.target as HTMLTextAreaElement).value)} />
      </details>
      <div class={`panes${sideBySide ? ' two' : ''}`}>
        {active.map((i) => (
          <div class="pane" key={i} data-pane={i}>
            <ModelSelect
              id={`model-${i}`}
              label={sideBySide ? (i === 0 ? 'Left model' : 'Right model') : 'Model'}
              value={panes[i].model}
              choices={choices.data ?? []}
              onChange={(v) => patch(i, (p) => ({ ...p, model: v }))}
            />
            <div class="conversation" aria-live="polite" aria-label={`Conversation with ${panes[i].model || 'no model'}`}>
              {panes[i].messages.map((m, k) => (
                <div key={k} class={`bubble bubble-${m.role}`}>
                  <div class="bubble-role">{m.role}</div>
                  <div class="bubble-text">{m.content || <span class="muted">(empty reply)</span>}</div>
                </div>
              ))}
              {panes[i].streaming !== null ? (
                <div class="bubble bubble-assistant streaming">
                  <div class="bubble-role">assistant</div>
                  <div class="bubble-text">
                    {panes[i].streaming}
                    <span class="cursor" aria-hidden="true">▍</span>
                  </div>
                </div>
              ) : null}
              {panes[i].messages.length === 0 && panes[i].streaming === null ? <p class="muted">Ask something below.</p> : null}
            </div>
            {panes[i].info ? <p class="muted small reply-info">{panes[i].info}</p> : null}
            <ErrorBox error={panes[i].error} />
          </div>
        ))}
      </div>
      <form class="composer" onSubmit={send}>
        <label for="prompt">Message</label>
        <textarea
          id="prompt"
          rows={3}
          value={prompt}
          placeholder="Enter sends, Shift+Enter starts a new line"
          onInput={(e) => setPrompt((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              if (!busy) send();
            }
          }}
        />
        {formError ? (
          <p class="form-note" role="alert">
            {formError}
          </p>
        ) : null}
        <div class="actions">
          <button type="submit" disabled={busy}>
            Send
          </button>
          {busy ? (
            <button type="button" class="secondary" onClick={() => controllers.current.forEach((c) => c.abort())}>
              Stop
            </button>
          ) : null}
          <button type="button" class="link" disabled={busy} onClick={() => setPanes((ps) => ps.map((p) => ({ ...emptyPane(p.model) })))}>
            Clear conversation
          </button>
        </div>
      </form>
      {choices.data && choices.data.length === 0 ? <p class="muted">No model to chat with: the server’s models folder is empty.</p> : null}
    </section>
  );
}
