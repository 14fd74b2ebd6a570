// Token-length histogram as plain bars (a few bins; no chart library needed).
import type { HistogramBin } from '../api';

export function Histogram({ bins, label }: { bins: HistogramBin[]; label: string }) {
  const max = Math.max(1, ...bins.map((b) => b.count));
  return (
    <figure class="histogram" aria-label={label}>
      <figcaption>{label}</figcaption>
      <div class="bars">
        {bins.map((b) => (
          <div class="bar-row" key={`${b.lo}-${b.hi}`}>
            <span class="bar-label">{b.lo}–{b.hi}</span>
            <span class="bar-track">
              <span class="bar" style={{ width: `${(100 * b.count) / max}%` }} />
            </span>
            <span class="bar-count">{b.count}</span>
          </div>
        ))}
      </div>
    </figure>
  );
}
