// Bad requests: each answered with the right status and OpenAI's error object, never a 500.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { toFile, AuthenticationError, BadRequestError } from 'openai';
import { startServer, removeDir, call } from './server.mjs';

let server;
const LIMIT = 1000; // bytes: a small upload limit so the oversize case is cheap

before(async () => {
  server = await startServer({ args: ['--max-upload-bytes', String(LIMIT)] });
});

after(async () => {
  await server.stop();
  removeDir(server.dataDir);
});

function assertError(res, status, { param, code, message } = {}) {
  assert.equal(res.status, status, `status ${res.status}: ${res.text}`);
  assert.ok(res.json && res.json.error, `an error object: ${res.text}`);
  const e = res.json.error;
  assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0);
  assert.equal(e.type, status >= 500 ? 'server_error' : 'invalid_request_error');
  if (param !== undefined) assert.equal(e.param, param);
  if (code !== undefined) assert.equal(e.code, code);
  if (message !== undefined) assert.match(e.message, message);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
}

function form(fields) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, ...(Array.isArray(v) ? v : [v]));
  return fd;
}

const tinyFile = () => [new Blob(['{"text": "hello"}\n']), 'a.jsonl'];

async function upload(fields, key = server.adminKey) {
  const res = await fetch(server.apiBase + '/files', {
    method: 'POST', headers: key ? { Authorization: `Bearer ${key}` } : {}, body: form(fields),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* kept as text */ }
  return { status: res.status, json, text, headers: res.headers };
}

test('missing key and bad keys: 401', async () => {
  assertError(await call(server, 'GET', '/v1/files'), 401, { code: 'missing_api_key' });
  assertError(await call(server, 'GET', '/v1/files', { key: 'sk-llmtune-not-a-key' }), 401, { code: 'invalid_api_key' });
  assertError(await call(server, 'GET', '/v1/files', { headers: { Authorization: 'Basic Zm9vOmJhcg==' } }), 401);
  assertError(await upload({ purpose: 'fine-tune', file: tinyFile() }, 'sk-llmtune-wrong'), 401);
  const client = new OpenAI({ apiKey: 'sk-llmtune-wrong', baseURL: server.apiBase, maxRetries: 0 });
  await assert.rejects(client.files.list(), (e) => e instanceof AuthenticationError && e.status === 401);
  // The key never appears whole in the message.
  const r = await call(server, 'GET', '/v1/files', { key: 'sk-llmtune-abcdefghijklmnopqrstuvwxyz' });
  assert.ok(!r.json.error.message.includes('abcdefghijklmnopqrstuvwxyz'));
});

test('unknown ids and URLs: 404', async () => {
  const id = 'file-' + 'x'.repeat(24);
  assertError(await call(server, 'GET', `/v1/files/${id}`, { key: server.adminKey }), 404,
    { param: 'id', message: new RegExp(`No such File object: ${id}`) });
  assertError(await call(server, 'GET', `/v1/files/${id}/content`, { key: server.adminKey }), 404, { param: 'id' });
  assertError(await call(server, 'DELETE', `/v1/files/${id}`, { key: server.adminKey }), 404, { param: 'id' });
  assertError(await call(server, 'GET', `/v1/files?after=${id}`, { key: server.adminKey }), 404, { param: 'after' });
  assertError(await call(server, 'GET', '/v1/models/no-such-model', { key: server.adminKey }), 404,
    { param: 'model', code: 'model_not_found' });
  assertError(await call(server, 'GET', '/v1/nothing-here', { key: server.adminKey }), 404, { code: 'unknown_url' });
});

test('uploads: missing purpose, wrong purpose, missing file, bad extension: 400', async () => {
  assertError(await upload({ file: tinyFile() }), 400, { param: 'purpose', code: 'missing_required_parameter' });
  assertError(await upload({ purpose: 'batch', file: tinyFile() }), 400, { param: 'purpose', message: /fine-tune/ });
  assertError(await upload({ purpose: 'fine-tune' }), 400, { param: 'file', code: 'missing_required_parameter' });
  assertError(await upload({ purpose: 'fine-tune', file: [new Blob(['%PDF-1.4']), 'a.pdf'] }), 400,
    { param: 'file', code: 'invalid_file_format' });
  const client = new OpenAI({ apiKey: server.adminKey, baseURL: server.apiBase, maxRetries: 0 });
  await assert.rejects(
    client.files.create({ file: await toFile(Buffer.from('{"text":"x"}\n'), 'a.jsonl'), purpose: 'assistants' }),
    (e) => e instanceof BadRequestError && e.status === 400 && e.param === 'purpose');
});

test('an upload over the configured limit: 413, and nothing is stored', async () => {
  const big = '{"text": "' + 'a'.repeat(LIMIT) + '"}\n';
  assertError(await upload({ purpose: 'fine-tune', file: [new Blob([big]), 'big.jsonl'] }), 413,
    { param: 'file', code: 'file_too_large', message: new RegExp(String(LIMIT)) });
  const list = await call(server, 'GET', '/v1/files', { key: server.adminKey });
  assert.ok(!list.json.data.some((f) => f.filename === 'big.jsonl'));
  // The connection-level limit (a declared body far above the limit) answers 413 as well.
  const huge = 'x'.repeat(LIMIT + (1 << 20) + 10);
  const res = await call(server, 'POST', '/v1/files', {
    key: server.adminKey, headers: { 'Content-Type': 'multipart/form-data; boundary=zzz' }, raw: huge,
  });
  assertError(res, 413);
});

test('malformed multipart and a non-multipart upload: 400', async () => {
  const garbage = await call(server, 'POST', '/v1/files', {
    key: server.adminKey, headers: { 'Content-Type': 'multipart/form-data; boundary=abc' },
    raw: '--abc\r\nthis is not a part header\r\n\r\n--wrong--',
  });
  assertError(garbage, 400, { code: 'invalid_multipart' });
  const noBoundary = await call(server, 'POST', '/v1/files', {
    key: server.adminKey, headers: { 'Content-Type': 'multipart/form-data' }, raw: 'abc',
  });
  assertError(noBoundary, 400);
  assertError(await call(server, 'POST', '/v1/files', { key: server.adminKey, body: { purpose: 'fine-tune' } }), 400,
    { code: 'invalid_multipart' });
  // The server still answers on a fresh connection afterwards.
  assert.equal((await call(server, 'GET', '/healthz')).status, 200);
});

test('invalid JSON and missing or mistyped fields: 400', async () => {
  const bad = await call(server, 'POST', '/v1/organization/projects', {
    key: server.adminKey, headers: { 'Content-Type': 'application/json' }, raw: '{"name": ',
  });
  assertError(bad, 400, { code: 'invalid_json' });
  assertError(await call(server, 'POST', '/v1/organization/projects', {
    key: server.adminKey, headers: { 'Content-Type': 'application/json' }, raw: '[1, 2]',
  }), 400, { code: 'invalid_json' });
  assertError(await call(server, 'POST', '/v1/organization/projects', { key: server.adminKey, body: {} }), 400,
    { param: 'name', code: 'missing_required_parameter' });
  assertError(await call(server, 'POST', '/v1/organization/projects', { key: server.adminKey, body: { name: 7 } }), 400,
    { param: 'name', code: 'invalid_type' });
});

test('bad list parameters: 400', async () => {
  assertError(await call(server, 'GET', '/v1/files?limit=0', { key: server.adminKey }), 400, { param: 'limit' });
  assertError(await call(server, 'GET', '/v1/files?limit=abc', { key: server.adminKey }), 400, { param: 'limit' });
  assertError(await call(server, 'GET', '/v1/files?order=sideways', { key: server.adminKey }), 400, { param: 'order' });
  assertError(await call(server, 'GET', '/v1/files/file-x/content?llmtune_content=zip', { key: server.adminKey }), 400,
    { param: 'llmtune_content' });
});

test('admin endpoints refuse a project key: 401', async () => {
  const p = await call(server, 'POST', '/v1/organization/projects', { key: server.adminKey, body: { name: 'team' } });
  assert.equal(p.status, 200);
  const k = await call(server, 'POST', `/v1/organization/projects/${p.json.id}/api_keys`, { key: server.adminKey, body: { name: 'ci' } });
  assert.equal(k.status, 200);
  assertError(await call(server, 'GET', '/v1/organization/projects', { key: k.json.value }), 401, { code: 'insufficient_permissions' });
  assertError(await call(server, 'POST', '/v1/organization/projects', { key: k.json.value, body: { name: 'x' } }), 401);
});

test('no request above produced a 500', async () => {
  const metrics = await call(server, 'GET', '/metrics');
  assert.equal(metrics.status, 200);
  assert.ok(!/status="5\d\d"/.test(metrics.text), metrics.text);
});
