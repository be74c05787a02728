/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// The Ratchet server `npm run dev` proxies to: RATCHET_DEV_API, default the server's default
// listen address (`ratchet serve`).
declare const process: { env: Record<string, string | undefined> };
const RATCHET_SERVER = process.env['RATCHET_DEV_API'] || 'http://127.0.0.1:8080';

// The pages of the build, each its own entry: the dashboard (the SPA) and the API reference
// (Redoc), which the server serves as /api-docs.html; neither loads the other's code.
const page = (file: string) => decodeURIComponent(new URL(file, import.meta.url).pathname);
const API_DOCS = page('./api-docs.html');

// Vite starts every page's entry with its modulepreload polyfill. The API reference preloads
// nothing, and a module two entries import becomes a chunk of its own: the dashboard would load
// one file more. So the API reference page goes without it.
function apiDocsWithoutPreloadPolyfill(): Plugin {
  return {
    name: 'ratchet:api-docs-without-preload-polyfill',
    apply: 'build',
    enforce: 'post',
    transform(code, id) {
      if (id !== API_DOCS) return null;
      return { code: code.replace(/^import "vite\/modulepreload-polyfill";\n/, ''), map: null };
    },
  };
}

// `import url from 'virtual:redoc-standalone'`: the URL of Redoc's standalone bundle (its own
// React inside, so it never meets the dashboard's), which the API reference page loads as a
// plain script: a content-hashed file in assets/ (served with a long cache), its licence notices
// beside it. One thing in it would reach another host: its menu footer's logo, an <img> from
// cdn.redoc.ly. It gets `data:,` instead (no image: Redoc then leaves the logo out). When a Redoc
// upgrade no longer has that URL, the build stops: check what the new bundle fetches, then adapt.
const REDOC_MODULE = 'virtual:redoc-standalone';
const REDOC_FILE = 'redoc/bundles/redoc.standalone.js';
const REDOC_LOGO = '"https://cdn.redoc.ly/redoc/logo-mini.svg"';

function redocStandalone(): Plugin {
  const resolvedId = `\0${REDOC_MODULE}`;
  const devUrl = '/@redoc/redoc.standalone.js';
  let isBuild = false;
  let source: string | undefined;
  let bundleRef: string | undefined;
  let licenses: string | undefined;
  return {
    name: 'ratchet:redoc-standalone',
    configResolved(config) {
      isBuild = config.command === 'build';
    },
    resolveId(id) {
      return id === REDOC_MODULE ? resolvedId : null;
    },
    async load(id) {
      if (id !== resolvedId) return null;
      const file = (await this.resolve(REDOC_FILE))?.id.replace(/\?.*$/, '');
      if (!file) return this.error(`${REDOC_FILE} is missing: npm ci`);
      const original = await this.fs.readFile(file, { encoding: 'utf8' });
      if (!original.includes(REDOC_LOGO)) {
        return this.error(`${REDOC_FILE} no longer has ${REDOC_LOGO}: see what it fetches now (vite.config.ts)`);
      }
      source = original
        .replaceAll(REDOC_LOGO, '"data:,"')
        // Its source map is not shipped.
        .replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
      if (!isBuild) return `export default ${JSON.stringify(devUrl)};`;
      licenses = await this.fs.readFile(`${file}.LICENSE.txt`, { encoding: 'utf8' }).catch(() => undefined);
      bundleRef = this.emitFile({ type: 'asset', name: 'redoc.standalone.js', source });
      return `export default import.meta.ROLLUP_FILE_URL_${bundleRef};`;
    },
    generateBundle() {
      // Where the bundle's first line says its licence notices are.
      if (bundleRef && licenses) {
        this.emitFile({ type: 'asset', fileName: `${this.getFileName(bundleRef)}.LICENSE.txt`, source: licenses });
      }
    },
    configureServer(server) {
      server.middlewares.use(devUrl, (_req, res) => {
        res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
        res.end(source ?? '');
      });
    },
  };
}

export default defineConfig({
  plugins: [react(), apiDocsWithoutPreloadPolyfill(), redocStandalone()],
  // The server serves dist/ at `/`: index.html with no-cache, /assets/* with a
  // long cache, so asset file names must carry a content hash.
  base: '/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    rolldownOptions: {
      input: {
        index: page('./index.html'),
        'api-docs': API_DOCS,
      },
      output: {
        entryFileNames: 'assets/[name]-[hash].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
      },
    },
  },
  // Only the API reference page uses Redoc, as a file of its own (redocStandalone()).
  optimizeDeps: { exclude: ['redoc'] },
  server: {
    proxy: {
      // SSE streams pass through as they are (no buffering in the proxy). `/api/`, not `/api`:
      // /api-docs.html is a page of this build.
      '/api/': { target: RATCHET_SERVER, changeOrigin: true },
      '/healthz': RATCHET_SERVER,
      '/readyz': RATCHET_SERVER,
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
