// Two projects: a key sees, uses and changes only its own project's objects. Another
// project's object answers exactly like an id that does not exist.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';
import { startServer, removeDir, call } from './server.mjs';

let server;
let keyA; // the admin key's project
let keyB; // a second project
let fileA;

const data = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n';

before(async () => {
  server = await startServer();
  keyA = server.adminKey;
  const p = await call(server, 'POST', '/v1/organization/projects', { key: keyA, body: { name: 'project-b' } });
  assert.equal(p.status, 200);
  assert.match(p.json.id, /^proj_/);
  const k = await call(server, 'POST', `/v1/organization/projects/${p.json.id}/api_keys`, { key: keyA, body: { name: 'b' } });
  assert.equal(k.status, 200);
  assert.match(k.json.value, /^sk-llmtune-/);
  assert.ok(!k.json.redacted_value.includes(k.json.value.slice(15, 30)));
  keyB = k.json.value;
  const a = new OpenAI({ apiKey: keyA, baseURL: server.apiBase, maxRetries: 0 });
  fileA = await a.files.create({ file: await toFile(Buffer.from(data), 'a.jsonl'), purpose: 'fine-tune' });
});

after(async () => {
  await server.stop();
  removeDir(server.dataDir);
});

// The body of a 404 with the id replaced, so a foreign id and a missing one compare equal.
const normalized = (res, id) => JSON.stringify(res.json).replaceAll(id, '<id>');

test('every file endpoint answers a foreign id exactly like a missing one', async () => {
  const missing = 'file-' + 'Z'.repeat(24);
  const cases = [
    ['GET', (id) => `/v1/files/${id}`],
    ['GET', (id) => `/v1/files/${id}/content`],
    ['GET', (id) => `/v1/files/${id}/content?llmtune_content=canonical`],
    ['GET', (id) => `/v1/files?after=${id}`],
    ['DELETE', (id) => `/v1/files/${id}`],
  ];
  for (const [method, path] of cases) {
    const foreign = await call(server, method, path(fileA.id), { key: keyB });
    const absent = await call(server, method, path(missing), { key: keyB });
    assert.equal(foreign.status, 404, `${method} ${path('<id>')}: ${foreign.text}`);
    assert.equal(absent.status, 404);
    assert.equal(normalized(foreign, fileA.id), normalized(absent, missing), `${method} ${path('<id>')}`);
  }
  // Nothing B did touched A's file.
  const still = await call(server, 'GET', `/v1/files/${fileA.id}`, { key: keyA });
  assert.equal(still.status, 200);
});

test('lists show only the own project', async () => {
  const b = new OpenAI({ apiKey: keyB, baseURL: server.apiBase, maxRetries: 0 });
  const fileB = await b.files.create({ file: await toFile(Buffer.from(data), 'b.jsonl'), purpose: 'fine-tune' });
  const listB = await b.files.list();
  assert.deepEqual(listB.data.map((f) => f.id), [fileB.id]);
  const listA = await call(server, 'GET', '/v1/files', { key: keyA });
  assert.ok(listA.json.data.some((f) => f.id === fileA.id));
  assert.ok(!listA.json.data.some((f) => f.id === fileB.id));
  // The same bytes in two projects are two files (the blob is shared on disk, not the object).
  assert.equal(fileB.llmtune.sha256, fileA.llmtune.sha256);
  assert.notEqual(fileB.id, fileA.id);
});

test('a revoked key stops working at once', async () => {
  const projects = await call(server, 'GET', '/v1/organization/projects', { key: keyA });
  const b = projects.json.data.find((p) => p.name === 'project-b');
  const k = await call(server, 'POST', `/v1/organization/projects/${b.id}/api_keys`, { key: keyA, body: { name: 'temp' } });
  assert.equal((await call(server, 'GET', '/v1/files', { key: k.json.value })).status, 200);
  const del = await call(server, 'DELETE', `/v1/organization/projects/${b.id}/api_keys/${k.json.id}`, { key: keyA });
  assert.equal(del.status, 200);
  assert.equal(del.json.deleted, true);
  assert.equal((await call(server, 'GET', '/v1/files', { key: k.json.value })).status, 401);
});
