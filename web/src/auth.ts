// The API key: taken once from the URL that `llmtune serve` prints (?key=... or #key=...),
// kept in localStorage, and removed from the address bar so it does not linger in history
// or get copied along with the URL.
const STORAGE = 'llmtune.key';

export function getKey(): string | null {
  try {
    return localStorage.getItem(STORAGE);
  } catch {
    return null; // storage disabled: the user signs in every visit
  }
}

export function setKey(key: string): void {
  localStorage.setItem(STORAGE, key.trim());
}

export function clearKey(): void {
  localStorage.removeItem(STORAGE);
}

// Moves a key found in the URL into storage; returns it (null when the URL had none).
export function captureKeyFromUrl(): string | null {
  const url = new URL(location.href);
  let key = url.searchParams.get('key');
  if (key !== null) url.searchParams.delete('key');
  // The fragment may be "#key=..." or a route with a query ("#/jobs?key=...").
  let hash = url.hash.replace(/^#/, '');
  const q = hash.indexOf('?');
  const route = q >= 0 ? hash.slice(0, q) : hash.startsWith('/') ? hash : '';
  const params = new URLSearchParams(q >= 0 ? hash.slice(q + 1) : hash.startsWith('/') ? '' : hash);
  if (params.has('key')) {
    key ??= params.get('key');
    params.delete('key');
    const rest = params.toString();
    hash = route + (rest ? `?${rest}` : '');
    url.hash = hash ? `#${hash}` : '';
  }
  if (key === null) return null;
  history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  if (key.trim()) setKey(key);
  return key.trim() || null;
}
