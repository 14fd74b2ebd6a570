// An API error in words (the OpenAI error object's message), announced to screen readers.
import { errorText } from '../api';

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (error == null || error === false) return null;
  return (
    <div class="error-box" role="alert">
      {title ? <strong>{title}: </strong> : null}
      {errorText(error)}
    </div>
  );
}
