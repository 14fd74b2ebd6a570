// The llmtune HTTP API as the UI uses it: JSON calls with the Bearer key, uploads with real
// progress (XMLHttpRequest), and server-sent event streams read through fetch (EventSource
// cannot send the Authorization header). Every failure becomes an ApiError whose message is the
// OpenAI error object's message, so pages can show it in words.
import { getKey } from './auth';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

// Resolved against the page, so the UI works at any mount point of the server.
export function apiUrl(path: string): string {
  return new URL('v1' + path, document.baseURI.replace(/#.*$/, '')).toString();
}

function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const key = getKey();
  return key ? { Authorization: `Bearer ${key}`, ...extra } : extra;
}

// The OpenAI error object's message, or the status in words when the body is not one.
export function errorFrom(status: number, text: string): ApiError {
  try {
    const j = JSON.parse(text);
    if (j && j.error && typeof j.error.message === 'string')
      return new ApiError(j.error.message, status, j.error.code ?? null, j.error.param ?? null);
  } catch {
    /* not JSON */
  }
  const body = text.trim().slice(0, 300);
  return new ApiError(`The server answered HTTP ${status}${body ? `: ${body}` : ''}.`, status);
}

function networkError(e: unknown): ApiError {
  const why = e instanceof Error ? e.message : String(e);
  return new ApiError(`Cannot reach the llmtune server (${why}).`, 0);
}

const listeners = new Set<(e: ApiError) => void>();
// Called for every 401, so the app can send the user back to sign in.
export function onUnauthorized(f: (e: ApiError) => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

export async function api<T = any>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers = authHeaders(body !== undefined ? { 'Content-Type': 'application/json' } : {});
  let res: Response;
  try {
    res = await fetch(apiUrl(path), { method, headers, body: body !== undefined ? JSON.stringify(body) : undefined, signal });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw networkError(e);
  }
  const text = await res.text();
  if (!res.ok) {
    const err = errorFrom(res.status, text);
    if (res.status === 401) listeners.forEach((f) => f(err));
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(`The server sent a response that is not JSON (HTTP ${res.status}).`, res.status);
  }
}

export const get = <T = any>(path: string, signal?: AbortSignal) => api<T>('GET', path, undefined, signal);
export const post = <T = any>(path: string, body: unknown = {}, signal?: AbortSignal) => api<T>('POST', path, body, signal);
export const del = <T = any>(path: string) => api<T>('DELETE', path);

// POST /v1/files with upload progress. The file is streamed by the browser from disk, so a
// multi-GB file never sits in memory.
export function uploadFile(file: File, onProgress: (sent: number, total: number) => void): { promise: Promise<FileObject>; abort: () => void } {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<FileObject>((resolve, reject) => {
    xhr.open('POST', apiUrl('/files'));
    const key = getKey();
    if (key) xhr.setRequestHeader('Authorization', `Bearer ${key}`);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          reject(new ApiError('The server sent a response that is not JSON.', xhr.status));
        }
      } else {
        const err = errorFrom(xhr.status, xhr.responseText);
        if (xhr.status === 401) listeners.forEach((f) => f(err));
        reject(err);
      }
    };
    xhr.onerror = () => reject(new ApiError('The upload failed: the connection to the server broke.', 0));
    xhr.onabort = () => reject(new ApiError('The upload was cancelled.', 0));
    const form = new FormData();
    form.append('purpose', 'fine-tune');
    form.append('file', file, file.name);
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

// Reads a text/event-stream response: calls onData with each `data:` payload (parsed JSON)
// until `data: [DONE]` or the end of the body. Resolves with true when [DONE] arrived.
export async function streamSse(
  method: string,
  path: string,
  body: unknown | undefined,
  onData: (data: any) => void,
  signal: AbortSignal,
): Promise<boolean> {
  const headers = authHeaders(body !== undefined ? { 'Content-Type': 'application/json' } : {});
  let res: Response;
  try {
    res = await fetch(apiUrl(path), { method, headers, body: body !== undefined ? JSON.stringify(body) : undefined, signal });
  } catch (e) {
    if (signal.aborted) throw e;
    throw networkError(e);
  }
  if (!res.ok || !res.body) {
    const err = errorFrom(res.status, await res.text());
    if (res.status === 401) listeners.forEach((f) => f(err));
    throw err;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (!data) continue;
      if (data === '[DONE]') return true;
      let parsed: any;
      try {
        parsed = JSON.parse(data);
      } catch {
        throw new ApiError('The server sent an event that is not JSON.', res.status);
      }
      if (parsed && parsed.error && typeof parsed.error.message === 'string')
        throw new ApiError(parsed.error.message, res.status, parsed.error.code ?? null, parsed.error.param ?? null);
      onData(parsed);
    }
  }
  return false;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

// ---- shapes (only the fields the UI reads) ----

export interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more?: boolean;
  first_id?: string | null;
  last_id?: string | null;
}

export interface ReportItem {
  line?: number;
  path?: string;
  column?: string;
  code?: string;
  message: string;
  snippet?: string;
}

export interface HistogramBin {
  lo: number;
  hi: number;
  count: number;
}

export interface FileReport {
  file?: string;
  input_format?: string;
  compression?: string;
  shape?: string;
  records?: { read: number; kept: number; dropped: number; dropped_reasons?: Record<string, number>; kinds?: Record<string, number> };
  errors?: { total: number; shown?: number; items: ReportItem[] };
  warnings?: { total: number; by_code?: Record<string, number>; shown?: number; items: ReportItem[] };
  tokens?: { count?: number; min?: number; mean?: number; p50?: number; p95?: number; max?: number; total?: number; trainable_tokens?: number; histogram?: HistogramBin[] };
  token_lengths?: { histogram?: HistogramBin[]; [k: string]: unknown };
  error?: { kind?: string; message: string; hint?: string };
}

export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: 'uploaded' | 'processed' | 'error' | string;
  status_details: string | null;
  llmtune?: { canonical: { records: number } | null; sha256?: string; report?: FileReport | null };
}

export interface PreviewExample {
  line: number;
  kind: 'chat' | 'text' | string;
  messages?: { role: string; content: string }[];
  segments?: { text: string; trained: boolean }[];
  tokens?: number;
  trained_tokens?: number;
}

export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  llmtune?: {
    kind?: string;
    fine_tuned?: boolean;
    checkpoint?: boolean;
    step?: number;
    metrics?: Record<string, number>;
    lineage?: Lineage;
    base_model?: string;
    fine_tuning_job?: string;
    method?: string;
    usable?: boolean;
    error?: string;
    architecture?: string;
    parameters?: number;
    randomly_initialized?: boolean;
    description?: string;
    max_position_embeddings?: number;
    torch_dtype?: string;
  };
}

export interface Lineage {
  base?: { model: string; path?: string | null; sha256?: string | null };
  job?: string;
  training_file?: string;
  validation_file?: string | null;
  hyperparameters?: { method?: Job['method']; llmtune?: Record<string, any> };
  final_metrics?: Record<string, number> | null;
  artifacts?: { kind?: string; files?: string[]; exports?: Record<string, { status: string; file_id: string | null }> };
}

export interface JobError {
  code: string;
  message: string;
  param: string | null;
}

export interface Job {
  id: string;
  object: 'fine_tuning.job';
  model: string;
  created_at: number;
  finished_at: number | null;
  fine_tuned_model: string | null;
  status: string;
  training_file: string;
  validation_file: string | null;
  hyperparameters: { n_epochs: number | 'auto'; batch_size: number | 'auto'; learning_rate_multiplier: number | 'auto' };
  trained_tokens: number | null;
  result_files?: string[];
  error: JobError | null;
  seed: number;
  estimated_finish: number | null;
  suffix: string | null;
  metadata: Record<string, string> | null;
  method?: { type: string; supervised?: { hyperparameters: Record<string, unknown> } };
  llmtune?: Record<string, any> & { cost?: any };
}

export interface JobEvent {
  object: 'fine_tuning.job.event';
  id: string;
  created_at: number;
  level: string;
  message: string;
  data: any;
  type: string;
}

export interface Checkpoint {
  id: string;
  created_at: number;
  fine_tuned_model_checkpoint: string;
  step_number: number;
  metrics: Record<string, number>;
}

export interface Estimate {
  object?: string;
  hardware?: string;
  steps?: number;
  parameters?: { total: number; trainable: number };
  tokens?: { train: number };
  time?: { total_s: number; known?: boolean; lower_bound?: boolean; basis?: string };
  memory?: { peak_bytes: number; peak_phase?: string; capacity_bytes?: number };
  cost?: { usd: number; price_per_hour_usd?: number; lower_bound?: boolean } | null;
  fits?: boolean;
  verdict?: string;
  suggestions?: { change: string; settings?: Record<string, unknown>; peak_bytes?: number; total_s?: number }[];
}

export const TERMINAL = ['succeeded', 'failed', 'cancelled'];
export const SETTLED = [...TERMINAL, 'paused'];

// Saves a file's content (GET /v1/files/{id}/content) through the browser. The key must be
// sent as a header, so the bytes come through fetch and a temporary object URL.
export async function downloadFile(fileId: string, fallbackName: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(apiUrl(`/files/${encodeURIComponent(fileId)}/content`), { headers: authHeaders() });
  } catch (e) {
    throw networkError(e);
  }
  if (!res.ok) throw errorFrom(res.status, await res.text());
  const disposition = res.headers.get('Content-Disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

export interface ModelExport {
  object: 'model.export';
  model: string;
  format: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | string;
  file_id: string | null;
  bytes?: number;
  error: { code: string; message: string } | null;
}
