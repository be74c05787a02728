/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The Ratchet server `npm run dev` proxies to: RATCHET_DEV_API, default the server's default
// listen address (`ratchet serve`).
declare const process: { env: Record<string, string | undefined> };
const RATCHET_SERVER = process.env['RATCHET_DEV_API'] || 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  // The server serves dist/ at `/`: index.html with no-cache, /assets/* with a
  // long cache, so asset file names must carry a content hash.
  base: '/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    rolldownOptions: {
      output: {
        entryFileNames: 'assets/[name]-[hash].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
      },
    },
  },
  server: {
    proxy: {
      // SSE streams pass through as they are (no buffering in the proxy).
      '/api': { target: RATCHET_SERVER, changeOrigin: true },
      '/healthz': RATCHET_SERVER,
      '/readyz': RATCHET_SERVER,
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
