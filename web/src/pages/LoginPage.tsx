import { useState, type FormEvent } from 'react';
import { ApiClient } from '../api/client.ts';
import { errorMessage } from '../api/problem.ts';
import { useAuth } from '../auth.tsx';

/** Paste the API token; it is checked against the server before it is kept. */
export function LoginPage() {
  const { login, message } = useAuth();
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [checking, setChecking] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError('Paste a token first.');
      return;
    }
    setChecking(true);
    setError('');
    try {
      await new ApiClient({ token: () => t }).listSuites({ limit: 1 });
      login(t);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setChecking(false);
    }
  };

  return (
    <div className="login">
      <form className="login-card" onSubmit={(e) => void submit(e)}>
        <h1>
          <span className="brand-mark" aria-hidden="true">R</span> Ratchet
        </h1>
        <p className="muted">Database benchmark orchestration</p>
        {message && (
          <p className="error-box" role="alert">
            {message}
          </p>
        )}
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="rat_…"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          autoFocus
        />
        {error && (
          <p className="error-line" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button button-primary" disabled={checking}>
          {checking ? 'Checking…' : 'Sign in'}
        </button>
        <p className="hint">
          The server prints an admin token at its first start (<code>ratchet serve</code>); <code>ratchet demo</code>{' '}
          prints one too, and <code>ratchet token</code> makes more. The token is kept in this browser&apos;s local
          storage.
        </p>
        <p className="hint">
          The <a href="/api-docs.html">API reference</a> needs no token.
        </p>
      </form>
    </div>
  );
}
