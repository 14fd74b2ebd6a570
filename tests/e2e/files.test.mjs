// The Files API through the official OpenAI SDK, against the real server on loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import OpenAI, { toFile, NotFoundError } from 'openai';
import { startServer, removeDir, call } from './server.mjs';

let server;
let client;

const chat = (u, a) => JSON.stringify({ messages: [{ role: 'user', content: u }, { role: 'assistant', content: a }] });
const trainJsonl = [chat('What is 2+2?', '4'), chat('Capital of France?', 'Paris'), chat('Say hi', 'hi')].join('\n') + '\n';

before(async () => {
  server = await startServer();
  client = new OpenAI({ apiKey: server.adminKey, baseURL: server.apiBase, maxRetries: 0 });
});

after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, 'graceful shutdown exits 0');
  removeDir(server.dataDir);
});

test('upload, process, list, retrieve, content and delete through the SDK', async () => {
  const created = await client.files.create({
    file: await toFile(Buffer.from(trainJsonl), 'train.jsonl'),
    purpose: 'fine-tune',
  });
  assert.match(created.id, /^file-[0-9A-Za-z]{24}$/);
  assert.equal(created.object, 'file');
  assert.equal(created.bytes, Buffer.byteLength(trainJsonl));
  assert.equal(created.filename, 'train.jsonl');
  assert.equal(created.purpose, 'fine-tune');
  assert.equal(created.status, 'uploaded');
  assert.ok(Math.abs(created.created_at - Date.now() / 1000) < 60, 'created_at is now, in seconds');
  assert.equal(created.llmtune.sha256, createHash('sha256').update(trainJsonl).digest('hex'));

  const processed = await client.files.waitForProcessing(created.id, { pollInterval: 100, maxWait: 30000 });
  assert.equal(processed.status, 'processed', processed.status_details);
  assert.match(processed.status_details, /3 records read \(jsonl, openai_chat\): 3 kept/);
  assert.equal(processed.llmtune.canonical.records, 3);
  assert.equal(processed.llmtune.report.records.kept, 3);
  assert.equal(processed.llmtune.report.shape, 'openai_chat');

  const page = await client.files.list({ purpose: 'fine-tune' });
  assert.ok(page.data.some((f) => f.id === created.id));

  const content = await client.files.content(created.id);
  assert.equal(await content.text(), trainJsonl);

  const canonical = await call(server, 'GET', `/v1/files/${created.id}/content?llmtune_content=canonical`, { key: server.adminKey });
  assert.equal(canonical.status, 200);
  const lines = canonical.text.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  assert.deepEqual(lines[1].messages.map((m) => m.content), ['Capital of France?', 'Paris']);
  assert.equal(createHash('sha256').update(canonical.text).digest('hex'), processed.llmtune.canonical.sha256);

  const deleted = await client.files.delete(created.id);
  assert.deepEqual(deleted, { id: created.id, object: 'file', deleted: true });
  await assert.rejects(client.files.retrieve(created.id), (e) => e instanceof NotFoundError && e.status === 404);
});

test('an invalid dataset ends in status error with the report', async () => {
  const bad = chat('ok', 'fine') + '\n' + '{"messages": [{"role": "user", "content": 42}]}\n';
  const f = await client.files.create({ file: await toFile(Buffer.from(bad), 'bad.jsonl'), purpose: 'fine-tune' });
  const done = await client.files.waitForProcessing(f.id, { pollInterval: 100, maxWait: 30000 });
  assert.equal(done.status, 'error');
  assert.match(done.status_details, /invalid record/);
  assert.match(done.status_details, /line 2/);
  assert.equal(done.llmtune.canonical, null);
  assert.equal(done.llmtune.report.errors.total, 1);
  assert.equal(done.llmtune.report.errors.items[0].line, 2);
  const canonical = await call(server, 'GET', `/v1/files/${f.id}/content?llmtune_content=canonical`, { key: server.adminKey });
  assert.equal(canonical.status, 409);
  assert.equal(canonical.json.error.code, 'file_not_processed');
});

test('every extension the dataset library reads, compressed too', async () => {
  const csv = 'prompt,completion\nWhat is 2+2?,4\nCapital of France?,Paris\n';
  const uploads = [
    ['train.jsonl.gz', gzipSync(Buffer.from(trainJsonl)), 3],
    ['train.json', Buffer.from('[' + trainJsonl.trim().split('\n').join(',') + ']'), 3],
    ['train.csv', Buffer.from(csv), 2],
    ['train.tsv', Buffer.from(csv.replaceAll(',', '\t')), 2],
    ['notes.txt', Buffer.from('Some plain text to continue-pretrain on.\n'), 1],
  ];
  for (const [name, bytes, records] of uploads) {
    const f = await client.files.create({ file: await toFile(bytes, name), purpose: 'fine-tune' });
    const done = await client.files.waitForProcessing(f.id, { pollInterval: 100, maxWait: 30000 });
    assert.equal(done.status, 'processed', `${name}: ${done.status_details}`);
    assert.equal(done.llmtune.canonical.records, records, name);
  }
});

test('list pages with after/limit/order as OpenAI does', async () => {
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const f = await client.files.create({ file: await toFile(Buffer.from(trainJsonl), `p${i}.jsonl`), purpose: 'fine-tune' });
    ids.push(f.id);
  }
  const first = await call(server, 'GET', '/v1/files?limit=2', { key: server.adminKey });
  assert.equal(first.status, 200);
  assert.equal(first.json.object, 'list');
  assert.deepEqual(first.json.data.map((f) => f.id), [ids[2], ids[1]]);
  assert.equal(first.json.first_id, ids[2]);
  assert.equal(first.json.last_id, ids[1]);
  assert.equal(first.json.has_more, true);
  const next = await call(server, 'GET', `/v1/files?limit=1&after=${ids[1]}`, { key: server.adminKey });
  assert.deepEqual(next.json.data.map((f) => f.id), [ids[0]]);
  const asc = await call(server, 'GET', `/v1/files?order=asc&after=${ids[0]}`, { key: server.adminKey });
  assert.deepEqual(asc.json.data.map((f) => f.id), [ids[1], ids[2]]);
  assert.equal(asc.json.has_more, false);
  // The SDK's auto-pagination walks the same cursor.
  const seen = [];
  for await (const f of client.files.list({ limit: 2 })) seen.push(f.id);
  for (const id of ids) assert.ok(seen.includes(id));
});
