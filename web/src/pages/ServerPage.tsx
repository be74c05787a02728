import { ServerPanel } from '../components/ServerPanel.tsx';

export function ServerPage() {
  return (
    <div className="page">
      <header className="page-head">
        <h1>Server</h1>
      </header>
      <ServerPanel />
    </div>
  );
}
