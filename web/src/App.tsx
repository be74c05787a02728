import { ServerPanel } from './components/ServerPanel.tsx';
import { SuitesSection } from './components/SuitesSection.tsx';

export function App() {
  return (
    <div className="app">
      <header className="app-header">
        <h1 className="app-title">Ratchet</h1>
        <p className="app-tagline">Database benchmark orchestration</p>
      </header>
      <main className="app-main">
        <ServerPanel />
        <SuitesSection />
      </main>
    </div>
  );
}
