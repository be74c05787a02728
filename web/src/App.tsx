import { lazy, Suspense } from 'react';
import { Navigate, NavLink, Route, Routes } from 'react-router';
import { useMe } from './api/queries.ts';
import { useAuth } from './auth.tsx';
import { Loading } from './components/common.tsx';
import { tokenScope } from './lib/access.ts';
import { formatDateTime } from './lib/format.ts';
import { useStreamState } from './live.tsx';
import { LoginPage } from './pages/LoginPage.tsx';
import { SuitesPage } from './pages/SuitesPage.tsx';
import { AgentsPage } from './pages/AgentsPage.tsx';
import { InfrastructurePage } from './pages/InfrastructurePage.tsx';
import { ServerPage } from './pages/ServerPage.tsx';
import { WorkflowsPage } from './pages/WorkflowsPage.tsx';
import { NotFoundPage } from './pages/NotFoundPage.tsx';

// The heavy pages (React Flow, CodeMirror, uPlot) load on demand.
const RunPage = lazy(() => import('./pages/RunPage.tsx'));
const SuitePage = lazy(() => import('./pages/SuitePage.tsx'));
const ComparePage = lazy(() => import('./pages/ComparePage.tsx'));
const NewSuitePage = lazy(() => import('./pages/NewSuitePage.tsx'));
const WorkflowPage = lazy(() => import('./pages/WorkflowPage.tsx'));

function LiveIndicator() {
  const state = useStreamState();
  const label = state === 'open' ? 'Live' : state === 'connecting' ? 'Connecting' : 'Polling';
  const title =
    state === 'open'
      ? 'Status changes arrive over the event stream'
      : 'The event stream is not available: pages refresh every 1.5 s';
  return (
    <span className={`live-indicator live-${state}`} title={title}>
      <span className="dot" aria-hidden="true" />
      {label}
    </span>
  );
}

/** The signed-in token's name and broadest scope (nothing until `/me` answers, or if it cannot). */
function WhoAmI() {
  const me = useMe().data;
  if (!me) return null;
  const scope = tokenScope(me);
  const title = `Signed in with the API token "${me.name}" (scopes: ${me.scopes.join(', ') || 'none'})${
    me.expires_at !== null ? `; it expires ${formatDateTime(me.expires_at)}` : ''
  }${me.can_write ? '' : '. It can only read: submitting, cancelling and replaying are off.'}`;
  return (
    <span className="whoami" title={title}>
      <span className="whoami-name">{me.name}</span>
      <span className={`whoami-scope${me.can_write ? '' : ' whoami-read-only'}`}>{me.can_write ? scope : 'read only'}</span>
    </span>
  );
}

export function App() {
  const { token, logout } = useAuth();
  if (!token) return <LoginPage />;

  return (
    <div className="shell">
      <nav className="sidebar" aria-label="Main">
        <NavLink to="/suites" className="brand">
          <span className="brand-mark" aria-hidden="true">R</span> Ratchet
        </NavLink>
        <NavLink to="/suites" end={false}>
          Suites
        </NavLink>
        <NavLink to="/workflows">Workflows</NavLink>
        <NavLink to="/agents">Agents</NavLink>
        <NavLink to="/infrastructure">Infrastructure</NavLink>
        <NavLink to="/server">Server</NavLink>
        {/* A page of its own (api-docs.html, Redoc), outside this app's router. */}
        <a href="/api-docs.html" title="API reference: every endpoint of the server's OpenAPI document">
          API
        </a>
        <div className="sidebar-foot">
          <LiveIndicator />
          <WhoAmI />
          <button type="button" className="link-button" onClick={() => logout()}>
            Log out
          </button>
        </div>
      </nav>
      <main className="content">
        <Suspense fallback={<Loading what="page" />}>
          <Routes>
            <Route path="/" element={<Navigate to="/suites" replace />} />
            <Route path="/suites" element={<SuitesPage />} />
            <Route path="/suites/new" element={<NewSuitePage />} />
            <Route path="/suites/:id" element={<SuitePage />} />
            <Route path="/compare" element={<ComparePage />} />
            <Route path="/runs/:id" element={<RunPage />} />
            <Route path="/workflows" element={<WorkflowsPage />} />
            <Route path="/workflows/:name/:version" element={<WorkflowPage />} />
            <Route path="/agents" element={<AgentsPage />} />
            <Route path="/infrastructure" element={<InfrastructurePage />} />
            <Route path="/server" element={<ServerPage />} />
            <Route path="*" element={<NotFoundPage />} />
          </Routes>
        </Suspense>
      </main>
    </div>
  );
}
