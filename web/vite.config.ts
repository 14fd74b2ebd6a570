// Builds web/dist (index.html + hashed assets), which `llmtune serve` embeds and serves at /.
// `npm run dev --prefix web` serves the sources with /v1 proxied to a running server
// (LLMTUNE_URL, default http://127.0.0.1:8000).
import { defineConfig } from 'vite';

declare const process: { env: Record<string, string | undefined> };

export default defineConfig({
  base: './', // relative asset URLs: the UI works wherever the server mounts it
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', assetsDir: 'assets', target: 'es2020', sourcemap: false },
  server: {
    proxy: { '/v1': { target: process.env.LLMTUNE_URL ?? 'http://127.0.0.1:8000', changeOrigin: true } },
  },
});
