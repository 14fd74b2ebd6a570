// One dataset file: status, the validation report (errors with line and snippet, warnings,
// token statistics and histogram) and a preview of the first examples as chat bubbles with the
// trained text highlighted.
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, type FileObject, type FileReport, type ReportItem, type ListPage, type ModelObject, type PreviewExample, type HistogramBin } from '../api';
import { DeleteButton } from '../components/delete_button';
import { ErrorBox } from '../components/error_box';
import { Histogram } from '../components/histogram';
import { StatusChip } from '../components/status_chip';
import { useInterval, useLoad } from '../components/use_load';
import { bytes, count, num, time } from '../format';
import { href } from '../router';

export function FileDetail({ id, onDeleted, onStatus }: { id: string; onDeleted: () => void; onStatus: () => void }) {
  const file = useLoad((s) => get<FileObject>(`/files/${encodeURIComponent(id)}`, s), [id]);
  const f = file.data?.id === id ? file.data : null;
  const pending = f?.status === 'uploaded';
  const lastStatus = useRef<string | null>(null);
  useInterval(file.reload, 1000, pending);
  useEffect(() => {
    if (f && lastStatus.current && lastStatus.current !== f.status) onStatus();
    lastStatus.current = f?.status ?? null;
  }, [f?.status]);

  const [deleteError, setDeleteError] = useState<unknown>(null);

  if (file.error) return <ErrorBox error={file.error} />;
  if (!f) return <p class="muted">Loading…</p>;
  const report = f.llmtune?.report ?? null;

  return (
    <article class="file-detail" aria-labelledby="file-title">
      <header class="detail-head">
        <h2 id="file-title">{f.filename}</h2>
        <StatusChip status={f.status} />
      </header>
      <dl class="facts">
        <dt>ID</dt>
        <dd><code>{f.id}</code></dd>
        <dt>Size</dt>
        <dd>{bytes(f.bytes)}</dd>
        <dt>Uploaded</dt>
        <dd>{time(f.created_at)}</dd>
        {f.llmtune?.canonical ? (
          <>
            <dt>Records</dt>
            <dd>{count(f.llmtune.canonical.records)}</dd>
          </>
        ) : null}
      </dl>
      {pending ? <p class="muted" role="status">Validating and converting… the report appears when it is done.</p> : null}
      {f.status_details && f.status !== 'error' && !report ? <p class="status-details">{f.status_details}</p> : null}
      {f.status === 'error' ? (
        <div class="error-box" role="alert">
          <strong>This file cannot be used for training.</strong>{' '}
          {report?.error
            ? report.error.message
            : report?.errors && report.errors.total > 0
              ? `${count(report.errors.total)} invalid record${report.errors.total === 1 ? '' : 's'}: fix the lines listed below and upload the file again.`
              : f.status_details}
          {report?.error?.hint ? <div>{report.error.hint}</div> : null}
        </div>
      ) : null}
      {report && !report.error ? <Report report={report} /> : null}
      {f.status === 'processed' ? (
        <div class="actions">
          <a class="button-like" href={href('new') + `?training_file=${encodeURIComponent(f.id)}`}>
            Fine-tune on this file
          </a>
        </div>
      ) : null}
      {f.status === 'processed' ? <Preview fileId={f.id} /> : null}
      <div class="danger-zone">
        <DeleteButton
          label="Delete file"
          question={`Delete ${f.filename}?`}
          path={`/files/${encodeURIComponent(f.id)}`}
          onDeleted={onDeleted}
          onError={setDeleteError}
        />
        <ErrorBox error={deleteError} />
      </div>
    </article>
  );
}

function Report({ report }: { report: FileReport }) {
  const r = report.records;
  const errors = report.errors;
  const warnings = report.warnings;
  const hist = report.token_lengths?.histogram ?? report.tokens?.histogram ?? null;
  const tokens = report.tokens;
  return (
    <section class="report" aria-label="Validation report">
      <h3>Validation report</h3>
      {r ? (
        <p>
          {count(r.read)} records read ({report.input_format}
          {report.compression && report.compression !== 'none' ? `, ${report.compression}` : ''}, {report.shape}): {count(r.kept)} kept,{' '}
          {count(r.dropped)} dropped.
          {r.kinds ? ' ' + Object.entries(r.kinds).map(([k, v]) => `${count(v)} ${k}`).join(', ') + '.' : ''}
        </p>
      ) : null}
      {errors && errors.total > 0 ? (
        <div class="report-errors">
          <h4>
            {count(errors.total)} error{errors.total === 1 ? '' : 's'}
            {errors.items.length < errors.total ? ` (first ${errors.items.length} shown)` : ''}
          </h4>
          <ReportTable items={errors.items} kind="error" />
        </div>
      ) : (
        <p class="ok-text">No errors.</p>
      )}
      {warnings && warnings.total > 0 ? (
        <div class="report-warnings">
          <h4>
            {count(warnings.total)} warning{warnings.total === 1 ? '' : 's'}
            {warnings.by_code ? ': ' + Object.entries(warnings.by_code).map(([k, v]) => `${v} ${k.replace(/_/g, ' ')}`).join(', ') : ''}
          </h4>
          <ReportTable items={warnings.items} kind="warning" />
        </div>
      ) : null}
      {tokens ? <TokenSummary tokens={tokens} histogram={hist} /> : null}
    </section>
  );
}

function TokenSummary({ tokens, histogram }: { tokens: NonNullable<FileReport['tokens']>; histogram: HistogramBin[] | null }) {
  return (
    <>
      <p>
        Tokens per example: min {count(tokens.min)}, median {count(tokens.p50)}, mean {num(tokens.mean, 1)}, p95 {count(tokens.p95)}, max{' '}
        {count(tokens.max)}; {count(tokens.total)} in all
        {tokens.trainable_tokens != null ? `, ${count(tokens.trainable_tokens)} trained` : ''}.
      </p>
      {histogram && histogram.length > 0 ? <Histogram bins={histogram} label="Examples by token length" /> : null}
    </>
  );
}

// GET /v1/files/{id}/token_stats: the whole file counted with the chosen model's tokenizer and
// template (uploads are validated without a model, so their reports carry no token counts).
function TokenStats({ fileId, model }: { fileId: string; model: string }) {
  const stats = useLoad(
    (s) =>
      get<{ model: string; tokens: NonNullable<FileReport['tokens']> }>(
        `/files/${encodeURIComponent(fileId)}/token_stats?model=${encodeURIComponent(model)}`,
        s,
      ),
    [fileId, model],
  );
  return (
    <div class="token-stats" aria-label="Token statistics">
      <ErrorBox error={stats.error} title="Token statistics" />
      {stats.data ? <TokenSummary tokens={stats.data.tokens} histogram={stats.data.tokens.histogram ?? null} /> : null}
      {!stats.data && !stats.error ? <p class="muted">Counting tokens with {model}…</p> : null}
    </div>
  );
}

function ReportTable({ items, kind }: { items: ReportItem[]; kind: string }) {
  return (
    <div class="table-wrap">
      <table class={`report-table ${kind}s`}>
        <thead>
          <tr>
            <th scope="col">Line</th>
            <th scope="col">Where</th>
            <th scope="col">Problem</th>
          </tr>
        </thead>
        <tbody>
          {items.map((it, i) => (
            <tr key={i}>
              <td class="num">{it.line ?? '—'}</td>
              <td>
                <code>{it.path ?? it.column ?? ''}</code>
              </td>
              <td>
                <div>
                  {it.code ? <span class="code-tag">{it.code}</span> : null} {it.message}
                </div>
                {it.snippet ? <pre class="snippet">{it.snippet}</pre> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// GET /v1/files/{id}/preview: the first examples rendered with the chosen model's template,
// split into trained and untrained runs.
function Preview({ fileId }: { fileId: string }) {
  const models = useLoad((s) => get<ListPage<ModelObject>>('/models', s), []);
  const bases = models.data?.data.filter((m) => !m.llmtune?.fine_tuned && m.llmtune?.usable !== false) ?? [];
  const [model, setModel] = useState('');
  const chosen = model || bases[0]?.id || '';
  const preview = useLoad(
    (s) =>
      chosen
        ? get<ListPage<PreviewExample>>(`/files/${encodeURIComponent(fileId)}/preview?model=${encodeURIComponent(chosen)}&limit=5`, s)
        : Promise.resolve(null),
    [fileId, chosen],
  );
  const missing = preview.error && (preview.error as { code?: string }).code === 'unknown_url';
  return (
    <section class="preview" aria-label="Preview">
      <h3>Preview</h3>
      <div class="inline-field">
        <label for="preview-model">Rendered for</label>
        <select id="preview-model" value={chosen} onChange={(e) => setModel((e.target as HTMLSelectElement).value)}>
          {bases.map((m) => (
            <option key={m.id} value={m.id}>
              {m.id}
            </option>
          ))}
        </select>
      </div>
      <ErrorBox error={models.error} />
      {missing ? (
        <div class="error-box" role="alert">
          This server cannot preview files yet ({(preview.error as Error).message}).
        </div>
      ) : (
        <ErrorBox error={preview.error} title="Preview" />
      )}
      {!chosen && models.data ? <p class="muted">No base model is available to render the examples.</p> : null}
      {chosen ? <TokenStats fileId={fileId} model={chosen} /> : null}
      {preview.data?.data.map((ex) => <Example key={ex.line} ex={ex} />)}
      {preview.data ? (
        <p class="help">
          <mark class="trained">Highlighted</mark> text is what the model is trained to produce (its tokens carry the loss); the rest is
          context.
        </p>
      ) : null}
    </section>
  );
}

interface Run {
  text: string;
  trained: boolean;
}

// Splits each message's content into trained / untrained runs by finding it, in order, in the
// rendered text whose runs the server marked.
function messageRuns(ex: PreviewExample): Run[][] | null {
  const segs = ex.segments ?? [];
  const msgs = ex.messages ?? [];
  const full = segs.map((s) => s.text).join('');
  const trainedAt = new Uint8Array(full.length);
  let pos = 0;
  for (const s of segs) {
    if (s.trained) trainedAt.fill(1, pos, pos + s.text.length);
    pos += s.text.length;
  }
  let from = 0;
  const out: Run[][] = [];
  for (const m of msgs) {
    const at = m.content ? full.indexOf(m.content, from) : -1;
    if (at < 0) {
      out.push([{ text: m.content ?? '', trained: false }]);
      continue;
    }
    const runs: Run[] = [];
    for (let i = 0; i < m.content.length; i++) {
      const t = trainedAt[at + i] === 1;
      const last = runs[runs.length - 1];
      if (last && last.trained === t) last.text += m.content[i];
      else runs.push({ text: m.content[i], trained: t });
    }
    out.push(runs);
    from = at + m.content.length;
  }
  return out;
}

function Example({ ex }: { ex: PreviewExample }) {
  const [raw, setRaw] = useState(false);
  const runs = ex.kind === 'chat' && ex.messages ? messageRuns(ex) : null;
  return (
    <div class="example">
      <div class="example-head">
        <span>Line {ex.line}</span>
        <span class="muted small">
          {ex.tokens != null ? `${count(ex.tokens)} tokens` : ''}
          {ex.trained_tokens != null ? `, ${count(ex.trained_tokens)} trained` : ''}
        </span>
        {ex.segments ? (
          <button type="button" class="link" aria-pressed={raw} onClick={() => setRaw(!raw)}>
            {raw ? 'Show as chat' : 'Show as the model sees it'}
          </button>
        ) : null}
      </div>
      {runs && !raw ? (
        <div class="bubbles">
          {ex.messages!.map((m, i) => (
            <div key={i} class={`bubble bubble-${m.role}`}>
              <div class="bubble-role">{m.role}</div>
              <div class="bubble-text">
                {runs[i].map((r, j) => (r.trained ? <mark class="trained" key={j}>{r.text}</mark> : <span key={j}>{r.text}</span>))}
              </div>
            </div>
          ))}
        </div>
      ) : (
        <pre class="rendered">
          {(ex.segments ?? []).map((s, j) => (s.trained ? <mark class="trained" key={j}>{s.text}</mark> : <span key={j}>{s.text}</span>))}
        </pre>
      )}
    </div>
  );
}
