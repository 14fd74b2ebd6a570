// Models: base models, and fine-tuned models with their lineage (base, data, hyperparameters,
// final metrics), export (GGUF or merged Hugging Face folder) and delete.
import { useState } from 'preact/hooks';
import { del, get, post, type Checkpoint, type Job, type ListPage, type ModelObject } from '../api';
import { ErrorBox } from '../components/error_box';
import { useLoad } from '../components/use_load';
import { count, num, time } from '../format';
import { href } from '../router';

export function Models() {
  const models = useLoad((s) => get<ListPage<ModelObject>>('/models', s), []);
  const all = models.data?.data ?? [];
  const tuned = all.filter((m) => m.llmtune?.fine_tuned);
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

function FineTunedCard({ model, onDeleted }: { model: ModelObject; onDeleted: () => void }) {
  const jobId = model.llmtune?.fine_tuning_job ?? '';
  const job = useLoad((s) => (jobId ? get<Job>(`/fine_tuning/jobs/${encodeURIComponent(jobId)}`, s) : Promise.resolve(null)), [jobId]);
  const ckpts = useLoad(
    (s) => (jobId ? get<ListPage<Checkpoint>>(`/fine_tuning/jobs/${encodeURIComponent(jobId)}/checkpoints?limit=1`, s) : Promise.resolve(null)),
    [jobId],
  );
  const [exporting, setExporting] = useState<string | null>(null);
  const [exported, setExported] = useState<Record<string, unknown> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [confirming, setConfirming] = useState(false);
  const j = job.data;
  const hp = j?.method?.supervised?.hyperparameters ?? j?.hyperparameters;
  const final = ckpts.data?.data[0]?.metrics;

  async function exportAs(format: string) {
    setExporting(format);
    setError(null);
    setExported(null);
    try {
      setExported(await post(`/models/${encodeURIComponent(model.id)}/export`, { format }));
    } catch (e) {
      const code = (e as { code?: string }).code;
      setError(code === 'unknown_url' ? new Error(`This server cannot export models yet (${(e as Error).message})`) : e);
    } finally {
      setExporting(null);
    }
  }

  return (
    <article class="card model-card" aria-label={model.id}>
      <h3>
        <code>{model.id}</code>
      </h3>
      <dl class="facts">
        <dt>Base</dt>
        <dd>{model.llmtune?.base_model}</dd>
        <dt>Method</dt>
        <dd>{model.llmtune?.method}</dd>
        <dt>Job</dt>
        <dd>
          <a href={href('jobs', jobId)}>
            <code>{jobId}</code>
          </a>
        </dd>
        {j ? (
          <>
            <dt>Data</dt>
            <dd>
              <a href={href('datasets', j.training_file)}>
                <code>{j.training_file}</code>
              </a>
              {j.validation_file ? (
                <>
                  {' '}
                  + validation{' '}
                  <a href={href('datasets', j.validation_file)}>
                    <code>{j.validation_file}</code>
                  </a>
                </>
              ) : null}
            </dd>
            <dt>Hyperparameters</dt>
            <dd>
              {String(hp?.n_epochs)} epochs, batch {String(hp?.batch_size)}, lr {typeof j.llmtune?.learning_rate === 'number' ? num(j.llmtune.learning_rate, 6) : '—'}
              {j.llmtune?.max_steps ? `, ${j.llmtune.max_steps} steps` : ''}
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
              train loss {num(final.train_loss)}
              {final.valid_loss != null ? `, valid loss ${num(final.valid_loss)}` : ''}
              {final.train_mean_token_accuracy != null ? `, token accuracy ${num(final.train_mean_token_accuracy, 3)}` : ''} (step {final.step})
            </dd>
          </>
        ) : null}
      </dl>
      <ErrorBox error={job.error} />
      <div class="actions">
        <a class="button-like" href={href('playground') + `?model=${encodeURIComponent(model.id)}&compare=${encodeURIComponent(model.llmtune?.base_model ?? '')}`}>
          Chat
        </a>
        <button type="button" class="secondary" disabled={exporting !== null} onClick={() => exportAs('gguf')}>
          {exporting === 'gguf' ? 'Exporting…' : 'Export GGUF'}
        </button>
        <button type="button" class="secondary" disabled={exporting !== null} onClick={() => exportAs('hf')}>
          {exporting === 'hf' ? 'Exporting…' : 'Export merged (Hugging Face)'}
        </button>
        {confirming ? (
          <>
            <button
              type="button"
              class="danger"
              onClick={async () => {
                try {
                  await del(`/models/${encodeURIComponent(model.id)}`);
                  onDeleted();
                } catch (e) {
                  setError(e);
                }
                setConfirming(false);
              }}
            >
              Yes, delete
            </button>
            <button type="button" class="link" onClick={() => setConfirming(false)}>
              Keep it
            </button>
          </>
        ) : (
          <button type="button" class="link danger-link" onClick={() => setConfirming(true)}>
            Delete
          </button>
        )}
      </div>
      <ErrorBox error={error} />
      {exported ? <ExportResult result={exported} /> : null}
    </article>
  );
}

// The export's answer: a download link when the server gives one, and where the files are.
function ExportResult({ result }: { result: Record<string, any> }) {
  const url = result.url ?? result.download_url ?? null;
  const path = result.path ?? result.output ?? result.llmtune?.path ?? null;
  return (
    <div class="export-result" role="status">
      <strong>Exported.</strong> {path ? <>Files: <code>{String(path)}</code>. </> : null}
      {url ? (
        <a href={String(url)} download>
          Download
        </a>
      ) : null}
      <details>
        <summary>Server answer</summary>
        <pre class="snippet">{JSON.stringify(result, null, 2)}</pre>
      </details>
    </div>
  );
}
