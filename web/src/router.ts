// Hash routing (#/datasets, #/jobs/ftjob-...): the server needs no fallback route, and the key
// never travels to the server in the path.
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  path: string[]; // "#/jobs/ftjob-1" -> ["jobs", "ftjob-1"]
  query: URLSearchParams;
}

export function currentRoute(): Route {
  const hash = location.hash.replace(/^#\/?/, '');
  const q = hash.indexOf('?');
  const path = (q >= 0 ? hash.slice(0, q) : hash).split('/').filter(Boolean).map(decodeURIComponent);
  return { path, query: new URLSearchParams(q >= 0 ? hash.slice(q + 1) : '') };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function href(...parts: string[]): string {
  return '#/' + parts.map(encodeURIComponent).join('/');
}

export function navigate(to: string): void {
  location.hash = to.replace(/^#/, '');
}
