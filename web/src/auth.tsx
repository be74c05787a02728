/**
 * The API token: pasted on the login screen, kept in localStorage, dropped on a 401 (with
 * the server's explanation shown on the login screen).
 */
import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from 'react';
import { ApiClient } from './api/client.ts';

export const TOKEN_KEY = 'ratchet.token';

function readToken(): string {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

function writeToken(token: string) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // private mode: the token lives for this tab only
  }
}

export interface Auth {
  token: string;
  /** Why the user was sent back to the login screen (a 401's detail). */
  message: string;
  login: (token: string) => void;
  logout: (message?: string) => void;
  api: ApiClient;
}

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [token, setToken] = useState(readToken);
  const [message, setMessage] = useState('');
  const tokenRef = useRef(token);
  tokenRef.current = token;

  const logout = useCallback((msg = '') => {
    writeToken('');
    tokenRef.current = '';
    setToken('');
    setMessage(msg);
  }, []);

  const login = useCallback((t: string) => {
    const clean = t.trim();
    writeToken(clean);
    tokenRef.current = clean;
    setToken(clean);
    setMessage('');
  }, []);

  const api = useMemo(
    () =>
      new ApiClient({
        token: () => tokenRef.current,
        onUnauthorized: (detail) => {
          if (tokenRef.current) logout(`The server refused the token: ${detail}`);
        },
      }),
    [logout],
  );

  const value = useMemo(() => ({ token, message, login, logout, api }), [token, message, login, logout, api]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error('useAuth outside AuthProvider');
  return auth;
}

export function useApi(): ApiClient {
  return useAuth().api;
}
