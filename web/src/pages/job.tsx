// One job: status and controls, live loss curves fed by the events stream (SSE), progress with
// ETA, the failure and its cause, hyperparameters, checkpoints and the events log.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { downloadFile, get, post, SETTLED, streamSse, type Checkpoint, type Estimate, type FileObject, type Job, type JobEvent, type ListPage } from '../api';
import { ErrorBox } from '../components/error_box';
import { LossChart, type LossPoint } from '../components/loss_chart';
import { StatusChip } from '../components/status_chip';
import { useInterval, useLoad } from '../components/use_load';
import { bytes, count, duration, num, time, usd } from '../format';
import { href } from '../router';

const ACTIONS: Record<string, string[]> = {
  validating_files: ['cancel', 'pause'],
  queued: ['cancel', 'pause'],
  running: ['cancel', 'pause'],
  paused: ['resume', 'cancel'],
};

export function JobPage({ id }: { id: string }) {
  const job = useLoad((s) => get<Job>(`/fine_tuning/jobs/${encodeURIComponent(id)}`, s), [id]);
  const j = job.data?.id === id ? job.data : null;
  const settled = j ? SETTLED.includes(j.status) : false;
  useInterval(job.reload, 2000, !!j && !settled);

  // The event stream: replayed from the start each time it opens; reopened when a paused job
  // is resumed (the stream ends when the job settles).
  const [events, setEvents] = useState<JobEvent[]>([]);
  const [streamError, setStreamError] = useState<unknown>(null);
  const [streaming, setStreaming] = useState(false);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const c = new AbortController();
    setEvents([]);
    setStreamError(null);
    setStreaming(true);
    let batch: JobEvent[] = [];
    let timer: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      timer = null;
      const add = batch;
      batch = [];
      setEvents((es) => [...es, ...add]);
    };
    streamSse(
      'GET',
      `/fine_tuning/jobs/${encodeURIComponent(id)}/events?stream=true`,
      undefined,
      (e: JobEvent) => {
        batch.push(e);
        timer ??= setTimeout(flush, 100); // one render per burst (the replay sends many)
      },
      c.signal,
    )
      .then(async () => {
        if (timer) clearTimeout(timer);
        flush();
        // The server may settle the job a moment before it writes the final event (e.g. "The
        // job has successfully completed"), which the stream then misses: merge the newest page.
        const page = await get<ListPage<JobEvent>>(`/fine_tuning/jobs/${encodeURIComponent(id)}/events?limit=100`, c.signal);
        setEvents((es) => {
          const have = new Set(es.map((e) => e.id));
          const late = page.data.filter((e) => !have.has(e.id)).reverse();
          return late.length ? [...es, ...late] : es;
        });
        await job.reload(); // the settled status, before the stream counts as ended
      })
      .catch((e) => {
        if (!c.signal.aborted) setStreamError(e);
      })
      .finally(() => {
        if (!c.signal.aborted) setStreaming(false);
      });
    return () => {
      c.abort();
      if (timer) clearTimeout(timer);
    };
  }, [id, generation]);
  // A resumed job streams again.
  useEffect(() => {
    if (j && !SETTLED.includes(j.status) && !streaming) setGeneration((g) => g + 1);
  }, [j?.status, streaming]);

  const checkpointCount = events.filter((e) => /^Checkpoint created/.test(e.message)).length;
  const checkpoints = useLoad(
    (s) => get<ListPage<Checkpoint>>(`/fine_tuning/jobs/${encodeURIComponent(id)}/checkpoints?limit=100`, s),
    [id, checkpointCount, j?.status],
  );

  const points = useMemo(() => {
    const out: LossPoint[] = [];
    for (const e of events) {
      if (e.type !== 'metrics' || !e.data) continue;
      if (typeof e.data.train_loss === 'number') out.push({ step: e.data.step, train: e.data.train_loss });
      if (typeof e.data.valid_loss === 'number') out.push({ step: e.data.step, valid: e.data.valid_loss });
    }
    return out;
  }, [events]);
  const lastTrain = [...events].reverse().find((e) => e.type === 'metrics' && typeof e.data?.train_loss === 'number');
  const lastValid = [...events].reverse().find((e) => e.type === 'metrics' && typeof e.data?.valid_loss === 'number');

  const [actionError, setActionError] = useState<unknown>(null);
  const [acting, setActing] = useState<string | null>(null);
  async function act(action: string) {
    setActing(action);
    setActionError(null);
    try {
      const updated = await post<Job>(`/fine_tuning/jobs/${encodeURIComponent(id)}/${action}`);
      job.setData(updated);
    } catch (e) {
      setActionError(e);
    } finally {
      setActing(null);
    }
  }

  if (job.error && !j) return <ErrorBox error={job.error} />;
  if (!j) return <p class="muted">Loading…</p>;

  const step = lastTrain?.data.step as number | undefined;
  const total = lastTrain?.data.total_steps as number | undefined;
  const eta = j.estimated_finish && j.status === 'running' ? j.estimated_finish - Date.now() / 1000 : null;
  const hp = j.method?.supervised?.hyperparameters ?? j.hyperparameters;
  const ext = j.llmtune ?? {};
  const cost = ext.cost && typeof ext.cost === 'object' ? ext.cost : null;
  const estimate = ext.estimate && typeof ext.estimate === 'object' ? (ext.estimate as Estimate) : null;

  return (
    <section class="page job-page">
      <p class="crumbs">
        <a href={href('jobs')}>Jobs</a> /
      </p>
      <div class="page-head">
        <h1>
          <code>{j.id}</code>
        </h1>
        <StatusChip status={j.status} />
      </div>
      <div class="actions">
        {(ACTIONS[j.status] ?? []).map((a) => (
          <button key={a} type="button" class={a === 'cancel' ? 'danger' : ''} disabled={acting !== null} onClick={() => act(a)}>
            {acting === a ? `${a[0].toUpperCase()}${a.slice(1)}ing…` : a[0].toUpperCase() + a.slice(1)}
          </button>
        ))}
        {j.fine_tuned_model && !ext.model_deleted ? (
          <a class="button-like" href={href('playground') + `?model=${encodeURIComponent(j.fine_tuned_model)}&compare=${encodeURIComponent(j.model)}`}>
            Try it in the playground
          </a>
        ) : null}
      </div>
      <ErrorBox error={actionError} />
      <ErrorBox error={job.error} />
      {j.status === 'failed' && j.error ? (
        <div class="error-box failure" role="alert">
          <strong>The job failed ({j.error.code}).</strong> {j.error.message}
          {j.error.param ? <div>Parameter: {j.error.param}</div> : null}
        </div>
      ) : null}
      {(j.status === 'running' || j.status === 'paused' || j.status === 'queued') && (
        <div class="progress-block">
          <progress max={total || 1} value={step ?? 0} aria-label="Training progress" />
          <span>
            {step != null && total ? `Step ${count(step)} of ${count(total)} (${Math.floor((100 * step) / total)}%)` : 'Waiting for the first step…'}
            {eta != null && eta > 0 ? ` · about ${duration(eta)} left (ETA ${time(j.estimated_finish)})` : ''}
            {cost && typeof cost.tokens_per_s === 'number' ? ` · ${count(Math.round(cost.tokens_per_s))} tokens/s` : ''}
          </span>
          {cost ? (
            <span class="muted small">
              {typeof cost.so_far_usd === 'number'
                ? `Cost so far ${usd(cost.so_far_usd)}${typeof cost.projected_usd === 'number' ? `, about ${usd(cost.projected_usd)} in all` : ''}.`
                : cost.basis
                  ? `Cost: ${cost.basis}.`
                  : ''}
            </span>
          ) : null}
        </div>
      )}
      {estimate && estimate.time ? (
        <p class="muted small">
          Estimated before launch: {estimate.time.lower_bound ? 'at least ' : ''}
          {duration(estimate.time.total_s)}, peak memory {bytes(estimate.memory?.peak_bytes)}
          {estimate.cost && typeof estimate.cost.usd === 'number' ? `, ${usd(estimate.cost.usd)}` : ''}
          {estimate.hardware ? ` on ${estimate.hardware}` : ''}.
        </p>
      ) : null}
      {j.status === 'succeeded' ? (
        <p class="ok-text">
          Succeeded {time(j.finished_at)}: <code>{j.fine_tuned_model}</code>
          {ext.model_deleted ? ' (model deleted)' : ''}, {count(j.trained_tokens)} tokens trained.
        </p>
      ) : null}

      <div class="split">
        <div>
          <h2>Loss</h2>
          <LossChart points={points} />
          <p class="muted small" role="status">
            {lastTrain ? `Training loss ${num(lastTrain.data.train_loss)} at step ${lastTrain.data.step}` : ''}
            {lastValid ? ` · validation loss ${num(lastValid.data.valid_loss)} at step ${lastValid.data.step}` : ''}
            {streaming ? ' · live' : ''}
          </p>
          <ErrorBox error={streamError} title="Event stream" />
        </div>
        <div>
          <h2>Details</h2>
          <dl class="facts">
            <dt>Base model</dt>
            <dd>{j.model}</dd>
            <dt>Training file</dt>
            <dd>
              <a href={href('datasets', j.training_file)}>
                <code>{j.training_file}</code>
              </a>
            </dd>
            <dt>Validation file</dt>
            <dd>
              {j.validation_file ? (
                <a href={href('datasets', j.validation_file)}>
                  <code>{j.validation_file}</code>
                </a>
              ) : (
                'none'
              )}
            </dd>
            <dt>Method</dt>
            <dd>{ext.method ?? 'lora'}</dd>
            <dt>Epochs</dt>
            <dd>{String(hp?.n_epochs ?? '—')}</dd>
            <dt>Batch size</dt>
            <dd>{String(hp?.batch_size ?? '—')}</dd>
            <dt>Learning rate</dt>
            <dd>
              {typeof ext.learning_rate === 'number' ? num(ext.learning_rate, 6) : '—'} (multiplier {String(hp?.learning_rate_multiplier ?? '—')})
            </dd>
            {ext.method === 'lora' && ext.lora ? (
              <>
                <dt>LoRA</dt>
                <dd>
                  r {ext.lora.r}, alpha {ext.lora.alpha}, dropout {ext.lora.dropout}
                </dd>
              </>
            ) : null}
            <dt>Max sequence length</dt>
            <dd>{ext.max_seq_len ?? '—'}</dd>
            {ext.max_steps ? (
              <>
                <dt>Max steps</dt>
                <dd>{ext.max_steps}</dd>
              </>
            ) : null}
            <dt>Schedule</dt>
            <dd>
              {ext.lr_scheduler_type ?? '—'}, warmup {ext.warmup_steps ?? 0}
            </dd>
            <dt>Seed</dt>
            <dd>{j.seed}</dd>
            <dt>Created</dt>
            <dd>{time(j.created_at)}</dd>
            {j.finished_at ? (
              <>
                <dt>Finished</dt>
                <dd>{time(j.finished_at)}</dd>
              </>
            ) : null}
          </dl>
        </div>
      </div>

      <h2>Checkpoints</h2>
      <ErrorBox error={checkpoints.error} />
      {checkpoints.data && checkpoints.data.data.length === 0 ? <p class="muted">No checkpoint yet.</p> : null}
      {checkpoints.data && checkpoints.data.data.length > 0 ? (
        <div class="table-wrap">
          <table class="checkpoints">
            <thead>
              <tr>
                <th scope="col">Step</th>
                <th scope="col">Train loss</th>
                <th scope="col">Valid loss</th>
                <th scope="col" class="hide-narrow">Model</th>
              </tr>
            </thead>
            <tbody>
              {checkpoints.data.data.map((c) => (
                <tr key={c.id}>
                  <td class="num">{c.step_number}</td>
                  <td class="num">{num(c.metrics?.train_loss)}</td>
                  <td class="num">{num(c.metrics?.valid_loss)}</td>
                  <td class="hide-narrow">
                    <code>{c.fine_tuned_model_checkpoint}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}

      {j.result_files && j.result_files.length > 0 ? <ResultFiles ids={j.result_files} /> : null}

      <EventsLog events={events} />
    </section>
  );
}

function EventsLog({ events }: { events: JobEvent[] }) {
  const [showMetrics, setShowMetrics] = useState(false);
  const shown = events.filter((e) => showMetrics || e.type !== 'metrics');
  const newest = shown.slice(-300).reverse();
  return (
    <section class="events" aria-label="Events">
      <div class="page-head">
        <h2>Events</h2>
        <label class="inline-check">
          <input type="checkbox" checked={showMetrics} onChange={(e) => setShowMetrics((e.target as HTMLInputElement).checked)} /> Show
          every step
        </label>
      </div>
      {newest.length === 0 ? <p class="muted">No events yet.</p> : null}
      <ol class="event-log">
        {newest.map((e) => (
          <li key={e.id} class={`event level-${e.level}`}>
            <time class="muted small">{new Date(e.created_at * 1000).toLocaleTimeString()}</time> {e.message}
          </li>
        ))}
      </ol>
      {shown.length > 300 ? <p class="muted small">Showing the newest 300 of {shown.length} events.</p> : null}
    </section>
  );
}

// The job's result files (the step metrics as CSV), downloaded with the key.
function ResultFiles({ ids }: { ids: string[] }) {
  const files = useLoad((s) => Promise.all(ids.map((id) => get<FileObject>(`/files/${encodeURIComponent(id)}`, s))), [ids.join(',')]);
  const [error, setError] = useState<unknown>(null);
  return (
    <section aria-label="Result files">
      <h2>Result files</h2>
      <div class="actions">
        {(files.data ?? []).map((f) => (
          <button
            key={f.id}
            type="button"
            class="secondary"
            onClick={async () => {
              setError(null);
              try {
                await downloadFile(f.id, f.filename);
              } catch (e) {
                setError(e);
              }
            }}
          >
            Download {f.filename} ({bytes(f.bytes)})
          </button>
        ))}
      </div>
      <ErrorBox error={files.error} />
      <ErrorBox error={error} />
    </section>
  );
}
