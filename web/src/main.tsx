// The llmtune web UI: a shell (header, navigation, sign out) around hash-routed pages.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { onUnauthorized } from './api';
import { captureKeyFromUrl, clearKey, getKey } from './auth';
import { href, navigate, useRoute } from './router';
import { SignIn } from './pages/sign_in';
import { Datasets } from './pages/datasets';
import { NewJob } from './pages/new_job';
import { Jobs } from './pages/jobs';
import { JobPage } from './pages/job';
import { Models } from './pages/models';
import { Playground } from './pages/playground';
import './styles.css';

captureKeyFromUrl();

const NAV: [string, string][] = [
  ['datasets', 'Datasets'],
  ['new', 'New fine-tune'],
  ['jobs', 'Jobs'],
  ['models', 'Models'],
  ['playground', 'Playground'],
];

function App() {
  const route = useRoute();
  const [key, setKeyState] = useState(getKey());
  const [signInNote, setSignInNote] = useState<string | null>(null);

  useEffect(
    () =>
      onUnauthorized((e) => {
        clearKey();
        setSignInNote(`The server refused the key: ${e.message}`);
        setKeyState(null);
      }),
    [],
  );

  if (!key)
    return (
      <SignIn
        note={signInNote}
        onSignedIn={(k) => {
          setSignInNote(null);
          setKeyState(k);
          if (!route.path[0]) navigate(href('datasets'));
        }}
      />
    );

  const page = route.path[0] ?? 'datasets';
  let body;
  switch (page) {
    case 'datasets':
      body = <Datasets selected={route.path[1] ?? null} />;
      break;
    case 'new':
      body = <NewJob query={route.query} />;
      break;
    case 'jobs':
      body = route.path[1] ? <JobPage id={route.path[1]} /> : <Jobs />;
      break;
    case 'models':
      body = <Models />;
      break;
    case 'playground':
      body = <Playground query={route.query} />;
      break;
    default:
      body = (
        <section>
          <h1>Not found</h1>
          <p>
            There is no page “{page}”. Go to <a href={href('datasets')}>Datasets</a>.
          </p>
        </section>
      );
  }

  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href('datasets')}>llmtune</a>
        <nav aria-label="Main">
          {NAV.map(([id, label]) => (
            <a key={id} href={href(id)} aria-current={page === id ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <button
          type="button"
          class="link sign-out"
          onClick={() => {
            clearKey();
            setKeyState(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {body}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
// When the first page was in the DOM, for the e2e test's first-render check.
performance.mark('llmtune-first-render');
