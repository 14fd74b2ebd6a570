// Train and validation loss against the step, drawn with uPlot. Points are appended as metrics
// events arrive; the chart redraws with setData (cheap) and resizes with its container.
// uPlot is loaded on first use, so the other pages' first render does not wait for it.
import { useEffect, useRef } from 'preact/hooks';
import type uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface LossPoint {
  step: number;
  train?: number;
  valid?: number;
}

function toData(points: LossPoint[]): uPlot.AlignedData {
  const steps = [...new Set(points.map((p) => p.step))].sort((a, b) => a - b);
  const train = new Map<number, number>();
  const valid = new Map<number, number>();
  for (const p of points) {
    if (p.train !== undefined) train.set(p.step, p.train);
    if (p.valid !== undefined) valid.set(p.step, p.valid);
  }
  return [steps, steps.map((s) => train.get(s) ?? null), steps.map((s) => valid.get(s) ?? null)] as uPlot.AlignedData;
}

export function LossChart({ points }: { points: LossPoint[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(points);
  latest.current = points;

  useEffect(() => {
    const el = box.current!;
    let gone = false;
    let ro: ResizeObserver | null = null;
    const width = () => Math.max(240, el.clientWidth);
    const opts: uPlot.Options = {
      width: width(),
      height: 260,
      scales: { x: { time: false } },
      axes: [{ label: 'step' }, { label: 'loss' }],
      series: [
        { label: 'step' },
        { label: 'train loss', stroke: '#2563eb', width: 2, spanGaps: true, points: { show: false } },
        { label: 'valid loss', stroke: '#dc2626', width: 2, spanGaps: true, points: { show: true, size: 6 } },
      ],
      legend: { live: true },
    };
    import('uplot').then(({ default: UPlot }) => {
      if (gone) return;
      plot.current = new UPlot(opts, toData(latest.current), el);
      ro = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: 260 }));
      ro.observe(el);
    });
    return () => {
      gone = true;
      ro?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData(toData(points));
  }, [points]);

  // Distinct steps with a training loss (a step redone after a resume is drawn once).
  const trainPoints = new Set(points.filter((p) => p.train !== undefined).map((p) => p.step)).size;
  return (
    <figure class="chart">
      <div ref={box} class="chart-box" data-points={trainPoints} aria-label={`Loss curve, ${trainPoints} training steps`} role="img" />
      {points.length === 0 ? <figcaption class="muted">No metrics yet: the curve appears with the first training step.</figcaption> : null}
    </figure>
  );
}
