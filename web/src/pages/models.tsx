// Models: base models, and fine-tuned models with their lineage (base, data, hyperparameters,
// final metrics), export (GGUF or merged Hugging Face folder) and delete.
import { useState } from 'preact/hooks';
import { downloadFile, get, post, type Checkpoint, type Job, type ListPage, type ModelExport, type ModelObject } from '../api';
import { DeleteButton } from '../components/delete_button';
import { ErrorBox } from '../components/error_box';
import { useInterval, useLoad } from '../components/use_load';
import { bytes, count, num, time } from '../format';
import { href } from '../router';

export function Models() {
  const models = useLoad((s) => get<ListPage<ModelObject>>('/models', s), []);
  const all = models.data?.data ?? [];
  const tuned = all.filter((m) => m.llmtune?.fine_tuned && !m.llmtune.checkpoint);
  const bases = all.filter((m) => !m.llmtune?.fine_tuned);
  return (
    <section class="page">
      <h1>Models</h1>
      <ErrorBox error={models.error} />
      <h2>Fine-tuned</h2>
      {models.data && tuned.length === 0 ? (
        <p class="muted">
          No fine-tuned model yet. <a href={href('new')}>Start a fine-tune</a>.
        </p>
      ) : null}
      <div class="cards">
        {tuned.map((m) => (
          <FineTunedCard key={m.id} model={m} onDeleted={models.reload} />
        ))}
      </div>
      <h2>Base models</h2>
      {models.data && bases.length === 0 ? <p class="muted">The server’s models folder holds no model.</p> : null}
      <div class="cards">
        {bases.map((m) => (
          <article class="card model-card" key={m.id} aria-label={m.id}>
            <h3>
              <code>{m.id}</code>
              {m.llmtune?.randomly_initialized ? <span class="chip chip-wait">randomly initialized</span> : null}
              {m.llmtune?.usable === false ? <span class="chip chip-bad">unusable</span> : null}
            </h3>
            {m.llmtune?.usable === false ? <div class="error-box">{m.llmtune.error}</div> : null}
            <dl class="facts">
              <dt>Architecture</dt>
              <dd>{m.llmtune?.architecture ?? '—'}</dd>
              <dt>Parameters</dt>
              <dd>{count(m.llmtune?.parameters)}</dd>
              <dt>Context</dt>
              <dd>{count(m.llmtune?.max_position_embeddings)} tokens</dd>
              <dt>Weights</dt>
              <dd>{m.llmtune?.torch_dtype ?? '—'}</dd>
            </dl>
            {m.llmtune?.description ? <p class="help">{m.llmtune.description}</p> : null}
            <div class="actions">
              <a class="button-like" href={href('new') + `?model=${encodeURIComponent(m.id)}`}>
                Fine-tune
              </a>
              <a class="button-like secondary" href={href('playground') + `?model=${encodeURIComponent(m.id)}`}>
                Chat
              </a>
            </div>
          </article>
        ))}
      </div>
    </section>
  );
}

const FORMATS: [string, string][] = [
  ['gguf', 'GGUF'],
  ['hf', 'merged Hugging Face model'],
];

function FineTunedCard({ model, onDeleted }: { model: ModelObject; onDeleted: () => void }) {
  const jobId = model.llmtune?.fine_tuning_job ?? '';
  // The model object with its lineage (base, data, hyperparameters, final metrics, artifacts).
  const detail = useLoad((s) => get<ModelObject>(`/models/${encodeURIComponent(model.id)}`, s), [model.id]);
  const job = useLoad((s) => (jobId ? get<Job>(`/fine_tuning/jobs/${encodeURIComponent(jobId)}`, s) : Promise.resolve(null)), [jobId]);
  const ckpts = useLoad(
    (s) => (jobId ? get<ListPage<Checkpoint>>(`/fine_tuning/jobs/${encodeURIComponent(jobId)}/checkpoints?limit=1`, s) : Promise.resolve(null)),
    [jobId],
  );
  const [error, setError] = useState<unknown>(null);
  const lineage = detail.data?.llmtune?.lineage;
  const j = job.data;
  const hp = j?.method?.supervised?.hyperparameters ?? j?.hyperparameters;
  const final = lineage?.final_metrics ?? ckpts.data?.data[0]?.metrics ?? null;
  const trainingFile = lineage?.training_file ?? j?.training_file;
  const validationFile = lineage?.validation_file ?? j?.validation_file;

  return (
    <article class="card model-card" aria-label={model.id}>
      <h3>
        <code>{model.id}</code>
      </h3>
      <dl class="facts">
        <dt>Base</dt>
        <dd>{model.llmtune?.base_model}</dd>
        <dt>Method</dt>
        <dd>{model.llmtune?.method === 'lora' ? 'LoRA adapter' : model.llmtune?.method === 'full' ? 'full fine-tune' : model.llmtune?.method}</dd>
        <dt>Job</dt>
        <dd>
          <a href={href('jobs', jobId)}>
            <code>{jobId}</code>
          </a>
        </dd>
        {trainingFile ? (
          <>
            <dt>Data</dt>
            <dd>
              <a href={href('datasets', trainingFile)}>
                <code>{trainingFile}</code>
              </a>
              {validationFile ? (
                <>
                  {' '}
                  + validation{' '}
                  <a href={href('datasets', validationFile)}>
                    <code>{validationFile}</code>
                  </a>
                </>
              ) : null}
            </dd>
          </>
        ) : null}
        {j ? (
          <>
            <dt>Hyperparameters</dt>
            <dd>
              {String(hp?.n_epochs)} epochs, batch {String(hp?.batch_size)}, lr {typeof j.llmtune?.learning_rate === 'number' ? num(j.llmtune.learning_rate, 6) : '—'}
              {j.llmtune?.max_steps ? `, ${j.llmtune.max_steps} steps` : ''}
              {j.llmtune?.method === 'lora' && j.llmtune.lora ? `, LoRA r ${j.llmtune.lora.r} alpha ${j.llmtune.lora.alpha}` : ''}
            </dd>
            <dt>Trained</dt>
            <dd>
              {count(j.trained_tokens)} tokens, finished {time(j.finished_at)}
            </dd>
          </>
        ) : null}
        {final ? (
          <>
            <dt>Final metrics</dt>
            <dd>
              {Object.entries(final)
                .filter(([k, v]) => typeof v === 'number' && k !== 'step')
                .map(([k, v]) => `${k.replace(/_/g, ' ')} ${num(v)}`)
                .join(', ')}
            </dd>
          </>
        ) : null}
        {lineage?.artifacts?.files && lineage.artifacts.files.length > 0 ? (
          <>
            <dt>Artifacts</dt>
            <dd>
              {lineage.artifacts.kind === 'peft_adapter' ? 'PEFT adapter: ' : ''}
              {lineage.artifacts.files.join(', ')}
            </dd>
          </>
        ) : null}
      </dl>
      <ErrorBox error={detail.error} />
      <ErrorBox error={job.error} />
      <div class="actions">
        <a class="button-like" href={href('playground') + `?model=${encodeURIComponent(model.id)}&compare=${encodeURIComponent(model.llmtune?.base_model ?? '')}`}>
          Chat
        </a>
        <DeleteButton label="Delete" path={`/models/${encodeURIComponent(model.id)}`} onDeleted={onDeleted} onError={setError} />
      </div>
      <ErrorBox error={error} />
      <div class="exports">
        {FORMATS.map(([format, label]) => (
          <ExportRow key={format} model={model.id} format={format} label={label} known={lineage?.artifacts?.exports?.[format] ?? null} />
        ))}
      </div>
    </article>
  );
}

// One export format: start it, follow it (GET .../export/{format}) and download the result,
// which the server keeps as a file of the project.
function ExportRow({ model, format, label, known }: { model: string; format: string; label: string; known: { status: string; file_id: string | null } | null }) {
  const [state, setState] = useState<ModelExport | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const status = state?.status ?? known?.status ?? null;
  const fileId = state?.file_id ?? known?.file_id ?? null;
  const live = status === 'queued' || status === 'running';
  const path = `/models/${encodeURIComponent(model)}/export`;
  useInterval(
    async () => {
      try {
        setState(await get<ModelExport>(`${path}/${format}`));
      } catch (e) {
        setError(e);
      }
    },
    2000,
    live,
  );

  async function start() {
    setBusy(true);
    setError(null);
    try {
      setState(await post<ModelExport>(path, { format }));
    } catch (e) {
      const code = (e as { code?: string }).code;
      setError(code === 'unknown_url' ? new Error(`This server cannot export models yet (${(e as Error).message})`) : e);
    } finally {
      setBusy(false);
    }
  }

  async function download() {
    setError(null);
    try {
      await downloadFile(fileId!, `${model.replace(/:/g, '_')}.${format === 'gguf' ? 'gguf' : 'tar'}`);
    } catch (e) {
      setError(e);
    }
  }

  return (
    <div class="export-row">
      <span class="export-label">Export as {label}</span>
      {status === 'succeeded' && fileId ? (
        <button type="button" class="secondary" onClick={download}>
          Download{state?.bytes ? ` (${bytes(state.bytes)})` : ''}
        </button>
      ) : live ? (
        <span class="chip chip-live" role="status">
          exporting…
        </span>
      ) : (
        <button type="button" class="secondary" disabled={busy} onClick={start}>
          {status === 'failed' ? 'Retry export' : 'Export'}
        </button>
      )}
      {state?.status === 'failed' && state.error ? (
        <div class="error-box" role="alert">
          The export failed ({state.error.code}): {state.error.message}
        </div>
      ) : null}
      <ErrorBox error={error} />
    </div>
  );
}
