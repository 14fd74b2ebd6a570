// Datasets: drag-and-drop upload with progress, the list of files with their status, and the
// selected file's validation report and preview.
import { useRef, useState } from 'preact/hooks';
import { get, uploadFile, type FileObject, type ListPage } from '../api';
import { ErrorBox } from '../components/error_box';
import { StatusChip } from '../components/status_chip';
import { useInterval, useLoad } from '../components/use_load';
import { FileDetail } from './file_detail';
import { bytes, count, ago } from '../format';
import { href, navigate } from '../router';

interface Upload {
  id: number;
  name: string;
  sent: number;
  total: number;
  error: unknown;
  done: boolean;
  abort: () => void;
}

let uploadSeq = 0;

export function Datasets({ selected }: { selected: string | null }) {
  const files = useLoad((s) => get<ListPage<FileObject>>('/files?purpose=fine-tune&limit=1000', s), []);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const processing = files.data?.data.some((f) => f.status === 'uploaded') ?? false;
  useInterval(files.reload, 1000, processing);

  const patch = (id: number, p: Partial<Upload>) => setUploads((us) => us.map((u) => (u.id === id ? { ...u, ...p } : u)));

  function start(list: FileList | null) {
    if (!list) return;
    for (const file of Array.from(list)) {
      const id = ++uploadSeq;
      const up = uploadFile(file, (sent, total) => patch(id, { sent, total }));
      setUploads((us) => [...us, { id, name: file.name, sent: 0, total: file.size, error: null, done: false, abort: up.abort }]);
      up.promise.then(
        (f) => {
          patch(id, { done: true, sent: file.size });
          setUploads((us) => us.filter((u) => u.id !== id));
          files.reload();
          navigate(href('datasets', f.id));
        },
        (e) => patch(id, { error: e, done: true }),
      );
    }
  }

  return (
    <section class="page">
      <h1>Datasets</h1>
      <div
        class={`dropzone${dragging ? ' dragging' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          start(e.dataTransfer?.files ?? null);
        }}
      >
        <p>
          <strong>Drop training files here</strong> or{' '}
          <label class="button-like" for="file-input">
            choose files
          </label>
          <input
            id="file-input"
            ref={input}
            class="visually-hidden"
            type="file"
            multiple
            aria-label="Choose dataset files to upload"
            onChange={(e) => {
              start((e.target as HTMLInputElement).files);
              if (input.current) input.current.value = '';
            }}
          />
        </p>
        <p class="help">
          JSONL, JSON, CSV, TSV or text (optionally .gz or .zst): chat, prompt/completion, Alpaca, ShareGPT or plain text. Each
          file is checked after the upload; its report shows every problem with its line.
        </p>
      </div>

      {uploads.map((u) => (
        <div class="upload" key={u.id}>
          <div class="upload-head">
            <span>{u.name}</span>
            <span class="muted">
              {bytes(u.sent)} / {bytes(u.total)}
            </span>
            {!u.done ? (
              <button type="button" class="link" onClick={u.abort}>
                Cancel
              </button>
            ) : (
              <button type="button" class="link" onClick={() => setUploads((us) => us.filter((x) => x.id !== u.id))}>
                Dismiss
              </button>
            )}
          </div>
          <progress max={u.total || 1} value={u.sent} aria-label={`Upload of ${u.name}`} />
          <ErrorBox error={u.error} title={`Upload of ${u.name} failed`} />
        </div>
      ))}

      <ErrorBox error={files.error} />
      <div class="split">
        <div class="list-pane">
          <h2>Files</h2>
          {files.data && files.data.data.length === 0 ? <p class="muted">No files yet. Upload one above.</p> : null}
          <ul class="item-list" aria-label="Files">
            {files.data?.data.map((f) => (
              <li key={f.id} class={f.id === selected ? 'selected' : ''}>
                <a href={href('datasets', f.id)} class="item-link">
                  <span class="item-title">{f.filename}</span>
                  <StatusChip status={f.status} />
                </a>
                <span class="muted small">
                  {bytes(f.bytes)}
                  {f.llmtune?.canonical ? ` · ${count(f.llmtune.canonical.records)} records` : ''} · {ago(f.created_at)}
                </span>
              </li>
            ))}
          </ul>
        </div>
        <div class="detail-pane">
          {selected ? (
            <FileDetail
              id={selected}
              onDeleted={() => {
                files.reload();
                navigate(href('datasets'));
              }}
              onStatus={() => files.reload()}
            />
          ) : (
            <p class="muted">Select a file to see its validation report and a preview of its examples.</p>
          )}
        </div>
      </div>
    </section>
  );
}
