// Jobs: every fine-tuning job of the project with its status, newest first.
import { get, TERMINAL, type Job, type ListPage } from '../api';
import { ErrorBox } from '../components/error_box';
import { StatusChip } from '../components/status_chip';
import { useInterval, useLoad } from '../components/use_load';
import { ago } from '../format';
import { href } from '../router';

export function Jobs() {
  const jobs = useLoad((s) => get<ListPage<Job>>('/fine_tuning/jobs?limit=100', s), []);
  const live = jobs.data?.data.some((j) => !TERMINAL.includes(j.status)) ?? false;
  useInterval(jobs.reload, 2000, live);
  return (
    <section class="page">
      <div class="page-head">
        <h1>Jobs</h1>
        <a class="button-like" href={href('new')}>
          New fine-tune
        </a>
      </div>
      <ErrorBox error={jobs.error} />
      {jobs.data && jobs.data.data.length === 0 ? (
        <p class="muted">
          No jobs yet. <a href={href('new')}>Start a fine-tune</a>.
        </p>
      ) : null}
      {jobs.data && jobs.data.data.length > 0 ? (
        <div class="table-wrap">
          <table class="jobs-table">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Status</th>
                <th scope="col">Base model</th>
                <th scope="col" class="hide-narrow">Fine-tuned model</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {jobs.data.data.map((j) => (
                <tr key={j.id}>
                  <td>
                    <a href={href('jobs', j.id)}>
                      <code>{j.id}</code>
                    </a>
                    {j.suffix ? <span class="muted small"> {j.suffix}</span> : null}
                  </td>
                  <td>
                    <StatusChip status={j.status} />
                  </td>
                  <td>{j.model}</td>
                  <td class="hide-narrow">{j.fine_tuned_model ? <code>{j.fine_tuned_model}</code> : '—'}</td>
                  <td>{ago(j.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
