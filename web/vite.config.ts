/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The Ratchet server listens here during local development (`cargo run`).
const RATCHET_SERVER = 'http://127.0.0.1:8080';

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
      '/api': RATCHET_SERVER,
      '/healthz': RATCHET_SERVER,
      '/readyz': RATCHET_SERVER,
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
