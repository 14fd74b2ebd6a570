// A delete that asks first: the button, then "Yes, delete" / "Keep it". The request's error goes
// to the caller, which shows it in words.
import { useState } from 'preact/hooks';
import { del } from '../api';

export function DeleteButton({
  label,
  question,
  path,
  onDeleted,
  onError,
}: {
  label: string;
  question?: string;
  path: string;
  onDeleted: () => void;
  onError: (e: unknown) => void;
}) {
  const [confirming, setConfirming] = useState(false);
  if (!confirming)
    return (
      <button type="button" class="link danger-link" onClick={() => setConfirming(true)}>
        {label}
      </button>
    );
  return (
    <>
      {question ? <span>{question}</span> : null}
      <button
        type="button"
        class="danger"
        onClick={async () => {
          try {
            await del(path);
            onDeleted();
          } catch (e) {
            onError(e);
          }
          setConfirming(false);
        }}
      >
        Yes, delete
      </button>
      <button type="button" class="link" onClick={() => setConfirming(false)}>
        Keep it
      </button>
    </>
  );
}
