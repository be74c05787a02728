// The API reference page (api-docs.html, its own Vite entry): Redoc renders the server's own
// OpenAPI document. Redoc's standalone bundle carries its own React, so it neither meets the
// dashboard's React 19 nor lands in the dashboard's bundle: the build puts it in /assets under a
// content hash (see redocStandalone() in vite.config.ts) and this page loads it as a plain
// script. Nothing comes from another host.
import redocUrl from 'virtual:redoc-standalone';
import './apidocs.css';

/**
 * The Redoc options this page sets (Redoc's own type, `RedocRawOptions` of the `redoc` package,
 * would bring its typings and those of styled-components and mobx into every typecheck).
 */
interface RedocOptions {
  downloadDefinitionUrl?: string;
  downloadFileName?: string;
  expandResponses?: string;
  jsonSamplesExpandLevel?: number;
  pathInMiddlePanel?: boolean;
  sortRequiredPropsFirst?: boolean;
  showSecuritySchemeType?: boolean;
  hideFab?: boolean;
  theme?: {
    colors?: { primary?: { main?: string }; text?: { primary?: string } };
    typography?: {
      fontSize?: string;
      fontFamily?: string;
      headings?: { fontFamily?: string };
      code?: { fontFamily?: string };
    };
    sidebar?: { width?: string };
  };
}

const SPEC_URL = '/api/v1/openapi.json';

// The dashboard's look (src/styles.css): system fonts only, so no font is fetched.
const FONT_SANS = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
const FONT_MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace";

const redocOptions: RedocOptions = {
  downloadDefinitionUrl: SPEC_URL,
  downloadFileName: 'ratchet-openapi.json',
  expandResponses: '200,201,202',
  jsonSamplesExpandLevel: 3,
  pathInMiddlePanel: true,
  sortRequiredPropsFirst: true,
  showSecuritySchemeType: true,
  hideFab: true,
  theme: {
    colors: { primary: { main: '#2457c5' }, text: { primary: '#1f2933' } },
    typography: {
      fontSize: '14px',
      fontFamily: FONT_SANS,
      headings: { fontFamily: FONT_SANS },
      code: { fontFamily: FONT_MONO },
    },
    sidebar: { width: '260px' },
  },
};

interface RedocStandalone {
  init(
    specOrSpecUrl: string | object,
    options: RedocOptions,
    element: HTMLElement | null,
    callback?: (error?: unknown) => void,
  ): void;
}

declare global {
  interface Window {
    Redoc?: RedocStandalone;
  }
}

function loadScript(src: string): Promise<RedocStandalone> {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.async = true;
    script.onload = () => (window.Redoc ? resolve(window.Redoc) : reject(new Error('the Redoc bundle did not load')));
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

async function loadSpec(): Promise<object> {
  const res = await fetch(SPEC_URL, { headers: { Accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET ${SPEC_URL}: HTTP ${res.status}`);
  return (await res.json()) as object;
}

function showError(root: HTMLElement, err: unknown) {
  const p = document.createElement('p');
  p.className = 'apidocs-status apidocs-error';
  p.setAttribute('role', 'alert');
  p.textContent = `The API reference could not be shown: ${err instanceof Error ? err.message : String(err)}`;
  root.replaceChildren(p);
}

const root = document.getElementById('redoc');
if (!root) throw new Error('missing #redoc element in api-docs.html');

// The bundle and the document load side by side.
Promise.all([loadScript(redocUrl), loadSpec()])
  .then(
    ([redoc, spec]) =>
      new Promise<void>((resolve, reject) => {
        redoc.init(spec, redocOptions, root, (error) => (error ? reject(error) : resolve()));
      }),
  )
  .catch((err: unknown) => showError(root, err));
