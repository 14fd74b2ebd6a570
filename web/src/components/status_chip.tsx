// A job or file status as a coloured chip.
const TONE: Record<string, string> = {
  succeeded: 'ok',
  processed: 'ok',
  running: 'live',
  validating_files: 'wait',
  queued: 'wait',
  uploaded: 'wait',
  paused: 'wait',
  failed: 'bad',
  error: 'bad',
  cancelled: 'off',
};

export function StatusChip({ status }: { status: string }) {
  return <span class={`chip chip-${TONE[status] ?? 'off'}`} data-status={status}>{status.replace(/_/g, ' ')}</span>;
}
