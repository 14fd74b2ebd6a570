// Numbers, sizes, times and durations in words.
export function bytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

export function count(n: number | null | undefined): string {
  return n == null ? '—' : n.toLocaleString('en-US');
}

export function num(n: number | null | undefined, digits = 4): string {
  if (n == null || !Number.isFinite(n)) return '—';
  return Math.abs(n) >= 1000 || (n !== 0 && Math.abs(n) < 1e-3) ? n.toExponential(2) : n.toFixed(digits).replace(/\.?0+$/, '');
}

export function duration(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s)) return '—';
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function time(unix: number | null | undefined): string {
  if (!unix) return '—';
  return new Date(unix * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function ago(unix: number | null | undefined): string {
  if (!unix) return '—';
  const s = Date.now() / 1000 - unix;
  if (s < 0) return 'in ' + duration(-s);
  if (s < 45) return 'just now';
  return duration(s).split(' ').slice(0, 2).join(' ') + ' ago';
}

export function usd(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return '—';
  return v < 0.01 ? `$${v.toFixed(4)}` : `$${v.toFixed(2)}`;
}
