// Loads data for a page: { data, error, loading, reload }. A newer load wins over an older one.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const controller = useRef<AbortController | null>(null);
  const reload = useCallback(async () => {
    const mine = ++seq.current;
    controller.current?.abort();
    const c = new AbortController();
    controller.current = c;
    setLoading(true);
    try {
      const d = await load(c.signal);
      if (mine === seq.current) {
        setData(d);
        setError(null);
      }
    } catch (e) {
      if (mine === seq.current && !c.signal.aborted) setError(e);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    reload();
    return () => controller.current?.abort();
  }, [reload]);
  return { data, error, loading, reload, setData };
}

// Calls f every `ms` while `active`.
export function useInterval(f: () => void, ms: number, active: boolean) {
  const saved = useRef(f);
  saved.current = f;
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => saved.current(), ms);
    return () => clearInterval(t);
  }, [ms, active]);
}
