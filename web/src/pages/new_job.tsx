// New fine-tune: base model, files, method and hyperparameters with defaults and inline help;
// the time / memory / cost estimate updates (debounced) as the settings change, and a setting
// that does not fit is flagged with the nearest changes that do.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText, get, post, type Estimate, type FileObject, type Job, type ListPage, type ModelObject } from '../api';
import { ErrorBox } from '../components/error_box';
import { useLoad } from '../components/use_load';
import { bytes, count, duration, usd } from '../format';
import { href, navigate } from '../router';

interface Form {
  model: string;
  training_file: string;
  validation_file: string;
  suffix: string;
  method: 'lora' | 'full';
  n_epochs: string;
  batch_size: string;
  learning_rate_multiplier: string;
  learning_rate: string;
  lora_r: string;
  lora_alpha: string;
  lora_dropout: string;
  dtype: 'f32' | 'bf16';
  gradient_checkpointing: boolean;
  gradient_accumulation_steps: string;
  max_seq_len: string;
  packing: boolean;
  max_steps: string;
  lr_scheduler_type: string;
  warmup_steps: string;
  eval_steps: string;
  save_steps: string;
  seed: string;
  hardware: string;
}

const DEFAULTS: Form = {
  model: '',
  training_file: '',
  validation_file: '',
  suffix: '',
  method: 'lora',
  n_epochs: '',
  batch_size: '',
  learning_rate_multiplier: '',
  learning_rate: '',
  lora_r: '8',
  lora_alpha: '16',
  lora_dropout: '0',
  dtype: 'f32',
  gradient_checkpointing: false,
  gradient_accumulation_steps: '1',
  max_seq_len: '1024',
  packing: false,
  max_steps: '',
  lr_scheduler_type: 'linear',
  warmup_steps: '0',
  eval_steps: '0',
  save_steps: '0',
  seed: '',
  hardware: '',
};

class FormError extends Error {}

function number(value: string, name: string, integer: boolean): number | undefined {
  const v = value.trim();
  if (!v) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new FormError(`${name}: “${v}” is not ${integer ? 'a whole number' : 'a number'}.`);
  return n;
}

const autoOr = (value: string, name: string, integer: boolean) => number(value, name, integer) ?? 'auto';

// The POST /v1/fine_tuning/jobs body (also the estimate's).
export function jobBody(f: Form): Record<string, unknown> {
  const llmtune: Record<string, unknown> = {
    method: f.method,
    max_seq_len: number(f.max_seq_len, 'Max sequence length', true),
    packing: f.packing,
    lr_scheduler_type: f.lr_scheduler_type,
    warmup_steps: number(f.warmup_steps, 'Warmup steps', true),
    eval_steps: number(f.eval_steps, 'Evaluate every', true),
    save_steps: number(f.save_steps, 'Checkpoint every', true),
    gradient_checkpointing: f.gradient_checkpointing,
    gradient_accumulation_steps: number(f.gradient_accumulation_steps, 'Gradient accumulation', true),
  };
  if (f.method === 'lora') {
    llmtune.lora = {
      r: number(f.lora_r, 'LoRA rank', true),
      alpha: number(f.lora_alpha, 'LoRA alpha', false),
      dropout: number(f.lora_dropout, 'LoRA dropout', false),
    };
    // A bf16 base is for LoRA only: full fine-tuning trains in f32.
    llmtune.dtype = f.dtype;
  }
  const maxSteps = number(f.max_steps, 'Max steps', true);
  if (maxSteps !== undefined) llmtune.max_steps = maxSteps;
  // The hardware the estimate is for: this machine's measured profile unless a catalog entry is named.
  if (f.hardware.trim() && f.hardware.trim() !== 'local') llmtune.hardware = f.hardware.trim();
  const lr = number(f.learning_rate, 'Learning rate', false);
  if (lr !== undefined) llmtune.learning_rate = lr;
  const body: Record<string, unknown> = {
    model: f.model,
    training_file: f.training_file,
    method: {
      type: 'supervised',
      supervised: {
        hyperparameters: {
          n_epochs: autoOr(f.n_epochs, 'Epochs', true),
          batch_size: autoOr(f.batch_size, 'Batch size', true),
          learning_rate_multiplier: autoOr(f.learning_rate_multiplier, 'Learning rate multiplier', false),
        },
      },
    },
    llmtune,
  };
  if (f.validation_file) body.validation_file = f.validation_file;
  if (f.suffix.trim()) body.suffix = f.suffix.trim();
  const seed = number(f.seed, 'Seed', true);
  if (seed !== undefined) body.seed = seed;
  return body;
}

function Field({ id, label, help, children }: { id: string; label: string; help?: ComponentChildren; children: ComponentChildren }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {help ? (
        <p class="help" id={`${id}-help`}>
          {help}
        </p>
      ) : null}
    </div>
  );
}

export function NewJob({ query }: { query: URLSearchParams }) {
  const models = useLoad((s) => get<ListPage<ModelObject>>('/models', s), []);
  const files = useLoad((s) => get<ListPage<FileObject>>('/files?purpose=fine-tune&limit=1000', s), []);
  const [form, setForm] = useState<Form>(() => ({
    ...DEFAULTS,
    training_file: query.get('training_file') ?? '',
    model: query.get('model') ?? '',
  }));
  const [submitError, setSubmitError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const bases = models.data?.data.filter((m) => !m.llmtune?.fine_tuned) ?? [];
  const usableFiles = files.data?.data.filter((f) => f.status !== 'error') ?? [];
  // Defaults once the lists arrive: the first usable base model, the newest file.
  useEffect(() => {
    setForm((f) => ({
      ...f,
      model: f.model || bases.find((m) => m.llmtune?.usable !== false)?.id || '',
      training_file: f.training_file || usableFiles[0]?.id || '',
    }));
  }, [models.data, files.data]);

  const set = <K extends keyof Form>(k: K, v: Form[K]) => setForm((f) => ({ ...f, [k]: v }));
  const text = (k: keyof Form) => ({
    id: `f-${k}`,
    value: form[k] as string,
    onInput: (e: Event) => set(k, (e.target as HTMLInputElement).value as never),
    'aria-describedby': `f-${k}-help`,
  });

  let body: Record<string, unknown> | null = null;
  let formError: string | null = null;
  try {
    body = jobBody(form);
  } catch (e) {
    formError = errorText(e);
  }
  if (!formError && !form.model) formError = 'Choose a base model.';
  if (!formError && !form.training_file) formError = 'Choose a training file (upload one on the Datasets page).';

  async function submit(e: Event) {
    e.preventDefault();
    if (formError || !body) {
      setSubmitError(new Error(formError ?? 'The form is incomplete.'));
      return;
    }
    setBusy(true);
    setSubmitError(null);
    try {
      const job = await post<Job>('/fine_tuning/jobs', body);
      navigate(href('jobs', job.id));
    } catch (err) {
      setSubmitError(err);
    } finally {
      setBusy(false);
    }
  }

  const estimateState = useEstimate(formError ? null : body);
  const model = bases.find((m) => m.id === form.model);
  return (
    <section class="page">
      <h1>New fine-tune</h1>
      <ErrorBox error={models.error} />
      <ErrorBox error={files.error} />
      <div class="split wide-right">
        <form class="job-form" onSubmit={submit} noValidate>
          <fieldset>
            <legend>Model and data</legend>
            <Field id="f-model" label="Base model" help={model?.llmtune?.randomly_initialized ? 'This starter model has random weights: good for trying the workflow, not for quality.' : 'The model to fine-tune (from the server’s models folder).'}>
              <select {...text('model')} onChange={(e) => set('model', (e.target as HTMLSelectElement).value)}>
                {bases.length === 0 ? <option value="">No base model on this server</option> : null}
                {bases.map((m) => (
                  <option key={m.id} value={m.id} disabled={m.llmtune?.usable === false}>
                    {m.id}
                    {m.llmtune?.randomly_initialized ? ' (randomly initialized)' : ''}
                    {m.llmtune?.usable === false ? ' (unusable)' : ''}
                  </option>
                ))}
              </select>
            </Field>
            <Field id="f-training_file" label="Training file" help="A processed file (or one still being validated: the job waits for it).">
              <select {...text('training_file')} onChange={(e) => set('training_file', (e.target as HTMLSelectElement).value)}>
                {usableFiles.length === 0 ? <option value="">No usable file yet</option> : null}
                {usableFiles.map((f) => (
                  <option key={f.id} value={f.id}>
                    {f.filename} ({f.id.slice(0, 12)}…{f.llmtune?.canonical ? `, ${count(f.llmtune.canonical.records)} records` : ''})
                  </option>
                ))}
              </select>
            </Field>
            <Field id="f-validation_file" label="Validation file (optional)" help="Held-out examples: the validation loss shows whether the model generalizes.">
              <select {...text('validation_file')} onChange={(e) => set('validation_file', (e.target as HTMLSelectElement).value)}>
                <option value="">None</option>
                {usableFiles.map((f) => (
                  <option key={f.id} value={f.id}>
                    {f.filename} ({f.id.slice(0, 12)}…)
                  </option>
                ))}
              </select>
            </Field>
            <Field id="f-suffix" label="Suffix (optional)" help="Part of the fine-tuned model’s name: letters, digits, - _ . (up to 64).">
              <input type="text" maxLength={64} {...text('suffix')} />
            </Field>
          </fieldset>

          <fieldset>
            <legend>Method</legend>
            <div class="radios" role="radiogroup" aria-label="Method">
              <label>
                <input type="radio" name="method" value="lora" checked={form.method === 'lora'} onChange={() => set('method', 'lora')} /> LoRA
                <span class="help"> — trains small adapter matrices; fast, little memory.</span>
              </label>
              <label>
                <input type="radio" name="method" value="full" checked={form.method === 'full'} onChange={() => set('method', 'full')} /> Full
                <span class="help"> — trains every weight; most capacity, most memory.</span>
              </label>
            </div>
            {form.method === 'lora' ? (
              <div class="grid3">
                <Field id="f-lora_r" label="LoRA rank" help="Adapter size (8).">
                  <input type="number" min={1} {...text('lora_r')} />
                </Field>
                <Field id="f-lora_alpha" label="LoRA alpha" help="Scale of the update (16).">
                  <input type="number" min={0} step="any" {...text('lora_alpha')} />
                </Field>
                <Field id="f-lora_dropout" label="LoRA dropout" help="0 to 1 (0).">
                  <input type="number" min={0} max={1} step="any" {...text('lora_dropout')} />
                </Field>
                <Field id="f-dtype" label="Base weights" help="bf16 halves the frozen base’s memory and is faster where the CPU or GPU has bf16 matmuls; adapters and optimizer state stay f32.">
                  <select {...text('dtype')} onChange={(e) => set('dtype', (e.target as HTMLSelectElement).value as Form['dtype'])}>
                    <option value="f32">f32</option>
                    <option value="bf16">bf16</option>
                  </select>
                </Field>
              </div>
            ) : null}
          </fieldset>

          <fieldset>
            <legend>Hyperparameters</legend>
            <div class="grid3">
              <Field id="f-n_epochs" label="Epochs" help="Passes over the data; empty = auto (3, more for small sets).">
                <input type="number" min={1} max={50} placeholder="auto" {...text('n_epochs')} />
              </Field>
              <Field id="f-batch_size" label="Batch size" help="Examples per step; empty = auto (from the data size).">
                <input type="number" min={1} max={256} placeholder="auto" {...text('batch_size')} />
              </Field>
              <Field id="f-learning_rate_multiplier" label="Learning rate multiplier" help={`Scales the base rate (${form.method === 'lora' ? '2e-4 for LoRA' : '2e-5 for full'}); empty = 1.`}>
                <input type="number" min={0} step="any" placeholder="auto" {...text('learning_rate_multiplier')} />
              </Field>
            </div>
            <div class="grid3">
              <Field id="f-max_seq_len" label="Max sequence length" help="Longer examples are cut (1024).">
                <input type="number" min={1} {...text('max_seq_len')} />
              </Field>
              <Field id="f-seed" label="Seed (optional)" help="Same seed, same run; empty = random.">
                <input type="number" min={0} {...text('seed')} />
              </Field>
              <div class="field checkbox-field">
                <label>
                  <input type="checkbox" checked={form.packing} onChange={(e) => set('packing', (e.target as HTMLInputElement).checked)} /> Packing
                </label>
                <p class="help">Pack short examples into full sequences (faster on short data).</p>
              </div>
            </div>
            <div class="grid3">
              <Field id="f-gradient_accumulation_steps" label="Gradient accumulation" help="Batches per optimizer step (1): a larger effective batch in the memory of one.">
                <input type="number" min={1} max={1024} {...text('gradient_accumulation_steps')} />
              </Field>
              <div class="field checkbox-field">
                <label>
                  <input type="checkbox" checked={form.gradient_checkpointing} onChange={(e) => set('gradient_checkpointing', (e.target as HTMLInputElement).checked)} /> Gradient checkpointing
                </label>
                <p class="help">Recompute each layer in the backward pass: far less activation memory, about a third more time.</p>
              </div>
            </div>
            <details>
              <summary>Advanced</summary>
              <div class="grid3">
                <Field id="f-max_steps" label="Max steps" help="Train exactly this many steps instead of epochs.">
                  <input type="number" min={1} {...text('max_steps')} />
                </Field>
                <Field id="f-learning_rate" label="Learning rate" help="An absolute peak rate (overrides the multiplier).">
                  <input type="number" min={0} step="any" {...text('learning_rate')} />
                </Field>
                <Field id="f-lr_scheduler_type" label="Schedule" help="How the rate changes over the run.">
                  <select {...text('lr_scheduler_type')} onChange={(e) => set('lr_scheduler_type', (e.target as HTMLSelectElement).value)}>
                    <option value="linear">linear decay</option>
                    <option value="cosine">cosine</option>
                    <option value="constant">constant</option>
                  </select>
                </Field>
                <Field id="f-warmup_steps" label="Warmup steps" help="Steps of rising rate at the start (0).">
                  <input type="number" min={0} {...text('warmup_steps')} />
                </Field>
                <Field id="f-eval_steps" label="Evaluate every (steps)" help="Needs a validation file; 0 = at the end.">
                  <input type="number" min={0} {...text('eval_steps')} />
                </Field>
                <Field id="f-save_steps" label="Checkpoint every (steps)" help="0 = a quarter of the run.">
                  <input type="number" min={0} {...text('save_steps')} />
                </Field>
              </div>
            </details>
          </fieldset>
          {formError ? <p class="form-note" role="status">{formError}</p> : null}
          <EstimateLine state={estimateState} />
          <ErrorBox error={submitError} title="The job was not created" />
          <button type="submit" disabled={busy}>
            {busy ? 'Starting…' : 'Start fine-tune'}
          </button>
        </form>
        <EstimatePanel
          body={formError ? null : body}
          state={estimateState}
          onApply={(s) => setForm((f) => applySuggestion(f, s))}
          hardware={
            <Field
              id="f-hardware"
              label="Estimate for"
              help={
                <>
                  Empty or <code>local</code>: this machine, as measured by <code>llmtune bench device</code>. Or a hardware catalog entry
                  (data/hardware_catalog.yaml), e.g. <code>lambda/gpu_1x_a100</code> or <code>aws-sagemaker/ml.g6.xlarge</code>.
                </>
              }
            >
              <input type="text" placeholder="local" {...text('hardware')} />
            </Field>
          }
        />
      </div>
    </section>
  );
}

// The server's verdict without its leading "fits: " / "does not fit: " (said by the heading).
function verdictDetail(verdict: string | undefined): string {
  if (!verdict) return '';
  const rest = verdict.replace(/^(fits|does not fit):\s*/, '');
  return rest[0].toUpperCase() + rest.slice(1) + (rest.endsWith('.') ? '' : '.');
}

// A suggestion's settings (method, dtype, gradient_checkpointing, batch_size,
// gradient_accumulation_steps) into the form.
function applySuggestion(f: Form, settings: Record<string, unknown>): Form {
  const out = { ...f };
  if (settings.method === 'lora' || settings.method === 'full') out.method = settings.method;
  if (settings.dtype === 'f32' || settings.dtype === 'bf16') out.dtype = settings.dtype;
  if (typeof settings.gradient_checkpointing === 'boolean') out.gradient_checkpointing = settings.gradient_checkpointing;
  if (typeof settings.batch_size === 'number') out.batch_size = String(settings.batch_size);
  if (typeof settings.gradient_accumulation_steps === 'number') out.gradient_accumulation_steps = String(settings.gradient_accumulation_steps);
  return out;
}

interface EstimateState {
  estimate: Estimate | null;
  error: unknown;
  busy: boolean;
}

// POST /v1/fine_tuning/jobs/estimate, 600 ms after the last change of the body.
function useEstimate(body: Record<string, unknown> | null): EstimateState {
  const [estimate, setEstimate] = useState<Estimate | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const key = body ? JSON.stringify(body) : '';
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    if (!body) {
      setBusy(false);
      return;
    }
    const c = new AbortController();
    setBusy(true); // the shown estimate is for older settings until the new one arrives
    const t = setTimeout(async () => {
      try {
        const e = await post<Estimate>('/fine_tuning/jobs/estimate', body, c.signal);
        if (mine === seq.current) {
          setEstimate(e);
          setError(null);
        }
      } catch (e) {
        if (mine === seq.current && !c.signal.aborted) {
          setError(e);
          setEstimate(null);
        }
      } finally {
        if (mine === seq.current) setBusy(false);
      }
    }, 600);
    return () => {
      clearTimeout(t);
      c.abort();
    };
  }, [key]);
  return { estimate, error, busy };
}

// One line next to the submit button on narrow screens, where the panel is far below.
function EstimateLine({ state }: { state: EstimateState }) {
  const e = state.estimate;
  if (state.error) return <p class="estimate-line narrow-only bad">Estimate: {errorText(state.error)}</p>;
  if (!e) return null;
  return (
    <p class={`estimate-line narrow-only ${e.fits === false ? 'bad' : 'ok'}`}>
      {e.fits === false ? 'Will not fit (see the estimate below). ' : 'Fits. '}
      {duration(e.time?.total_s)}, peak {bytes(e.memory?.peak_bytes)}
      {e.cost ? `, ${usd(e.cost.usd)}` : ''}
      {state.busy ? ' (updating…)' : ''}
    </p>
  );
}

function EstimatePanel({
  body,
  state,
  onApply,
  hardware,
}: {
  body: Record<string, unknown> | null;
  state: EstimateState;
  onApply: (s: Record<string, unknown>) => void;
  hardware: ComponentChildren;
}) {
  const { estimate, error, busy } = state;
  const missing = (error as { code?: string } | null)?.code === 'unknown_url';
  return (
    <aside class={`card estimate${busy ? ' stale' : ''}`} aria-label="Estimate" aria-live="polite" aria-busy={busy}>
      <h2>Estimate</h2>
      {hardware}
      {!body ? <p class="muted">Complete the form to see the estimate.</p> : null}
      {missing ? (
        <div class="error-box" role="alert">This server cannot estimate jobs yet ({errorText(error)}).</div>
      ) : (
        <ErrorBox error={error} />
      )}
      {estimate ? (
        <>
          {busy ? <p class="muted small">Updating for the new settings…</p> : null}
          <p class={estimate.fits === false ? 'verdict bad' : 'verdict ok'} data-fits={String(estimate.fits)}>
            <strong>{estimate.fits === false ? 'Will not fit.' : 'Fits.'}</strong> {verdictDetail(estimate.verdict)}
          </p>
          <dl class="facts">
            <dt>Time</dt>
            <dd>
              {estimate.time?.lower_bound ? 'at least ' : ''}
              {duration(estimate.time?.total_s)}
              {estimate.steps != null ? ` (${count(estimate.steps)} steps)` : ''}
            </dd>
            <dt>Peak memory</dt>
            <dd>
              {bytes(estimate.memory?.peak_bytes)}
              {estimate.memory?.capacity_bytes ? ` of ${bytes(estimate.memory.capacity_bytes)} usable` : ''}
            </dd>
            <dt>Cost</dt>
            <dd>{estimate.cost ? `${estimate.cost.lower_bound ? 'at least ' : ''}${usd(estimate.cost.usd)}` : 'no price for this hardware'}</dd>
            {estimate.parameters ? (
              <>
                <dt>Trained parameters</dt>
                <dd>
                  {count(estimate.parameters.trainable)} of {count(estimate.parameters.total)}
                </dd>
              </>
            ) : null}
            {estimate.hardware ? (
              <>
                <dt>Hardware</dt>
                <dd>{estimate.hardware}</dd>
              </>
            ) : null}
          </dl>
          {estimate.suggestions && estimate.suggestions.length > 0 ? (
            <div class="suggestions">
              <h3>{estimate.fits === false ? 'What to change' : 'Alternatives'}</h3>
              <ul>
                {estimate.suggestions.map((s, i) => (
                  <li key={i}>
                    {s.change}
                    <span class="muted small">
                      {' '}
                      — peak {bytes(s.peak_bytes)}, {duration(s.total_s)}
                    </span>
                    {s.settings ? (
                      <button type="button" class="link" onClick={() => onApply(s.settings!)}>
                        Apply these settings
                      </button>
                    ) : null}
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
        </>
      ) : null}
    </aside>
  );
}
