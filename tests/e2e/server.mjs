// Starts the real `llmtune serve` on a free loopback port with a fresh data dir, for the e2e
// suites. The binary comes from LLMTUNE_BINARY (set by CTest) or build/bin/llmtune.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const binary = process.env.LLMTUNE_BINARY || join(repoRoot, 'build', 'bin', 'llmtune');

export function tempDir(prefix = 'llmtune-e2e-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// Starts the server; resolves once its "listening" log line arrived. `args` are extra flags,
// `env` extra environment variables. The returned object's `logs` collects every stderr line.
export async function startServer({ dataDir, modelsDir, args = [], env = {} } = {}) {
  dataDir ??= tempDir();
  modelsDir ??= join(dataDir, 'models');
  const proc = spawn(binary, ['serve', '--port', '0', '--data-dir', dataDir, '--models-dir', modelsDir, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  let stdout = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL'); // never leave a server behind
      reject(new Error('server did not start in 30 s:\n' + logs.join('\n')));
    }, 30000);
    proc.stderr.on('data', (chunk) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        logs.push(line);
        try {
          const j = JSON.parse(line);
          if (j.msg === 'listening') { clearTimeout(timer); resolve(j.port); }
        } catch { /* not JSON: kept in logs */ }
      }
    });
    proc.on('error', (e) => { clearTimeout(timer); reject(new Error(`cannot start ${binary}: ${e.message}`)); });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (code ${code}, signal ${signal}) before listening:\n${logs.join('\n')}`));
    });
  });
  const adminKey = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
  const baseURL = `http://127.0.0.1:${port}`;
  return {
    proc, port, baseURL, apiBase: `${baseURL}/v1`, adminKey, dataDir, modelsDir, logs, exited,
    stdout: () => stdout,
    // SIGTERM (graceful) unless another signal is given; resolves with the exit status.
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

export function removeDir(dir) {
  if (dir && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

// fetch with the key (when given) and the JSON body parsed (when JSON).
export async function call(server, method, path, { key, body, headers = {}, raw } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  let payload = raw;
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(server.baseURL + path, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}
