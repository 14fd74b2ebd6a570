// Sign in: the key arrives in the URL `llmtune serve` prints, or is pasted here. It is checked
// against GET /v1/models before it is kept.
import { useState } from 'preact/hooks';
import { apiUrl, errorFrom } from '../api';
import { getKey, setKey } from '../auth';
import { ErrorBox } from '../components/error_box';

export function SignIn({ note, onSignedIn }: { note: string | null; onSignedIn: (key: string) => void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    const key = value.trim();
    if (!key) {
      setError(new Error('Paste an API key first.'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const res = await fetch(apiUrl('/models'), { headers: { Authorization: `Bearer ${key}` } });
      if (!res.ok) throw errorFrom(res.status, await res.text());
      setKey(key);
      onSignedIn(getKey()!);
    } catch (err) {
      setError(err instanceof TypeError ? new Error(`Cannot reach the llmtune server (${err.message}).`) : err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="sign-in" id="main">
      <h1>llmtune</h1>
      <p>Fine-tune language models on your own data, watch them learn, and try them out.</p>
      {note ? <div class="error-box" role="alert">{note}</div> : null}
      <form onSubmit={submit} class="card">
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          placeholder="sk-llmtune-..."
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          aria-describedby="api-key-help"
        />
        <p id="api-key-help" class="help">
          Open the URL that <code>llmtune serve</code> prints (it carries the key once), or paste a key: the admin key is
          in <code>&lt;data-dir&gt;/admin.key</code>. The key is kept in this browser only.
        </p>
        <ErrorBox error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
