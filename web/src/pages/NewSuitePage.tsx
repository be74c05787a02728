import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useCallback, useMemo, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { useCanWrite } from '../api/queries.ts';
import { useApi } from '../auth.tsx';
import { ApiError, errorMessage, specErrorPosition, specErrorsToDiagnostics, type SpecError } from '../api/problem.ts';
import { YamlEditor } from '../components/YamlEditor.tsx';
import { EXAMPLES } from '../examples/index.ts';
import { READ_ONLY_WHY } from '../lib/access.ts';

const DRAFT_KEY = 'ratchet.suite-draft';

function loadDraft(): string {
  try {
    return localStorage.getItem(DRAFT_KEY) ?? EXAMPLES[0]!.text;
  } catch {
    return EXAMPLES[0]!.text;
  }
}

/** The suite editor: YAML (or JSON) with the server's errors at their lines. */
export default function NewSuitePage() {
  const api = useApi();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const canWrite = useCanWrite();
  const [text, setText] = useState(loadDraft);
  /** The text the current errors refer to (they go stale as soon as it is edited). */
  const [errorsFor, setErrorsFor] = useState<{ text: string; errors: SpecError[] } | null>(null);
  const [focusAt, setFocusAt] = useState<{ pos: number; n: number } | null>(null);

  const onChange = useCallback((v: string) => {
    setText(v);
    try {
      localStorage.setItem(DRAFT_KEY, v);
    } catch {
      // ignore
    }
  }, []);

  const submit = useMutation({
    mutationFn: (body: string) => api.submitSuite(body, body.trimStart().startsWith('{') ? 'json' : 'yaml'),
    onMutate: () => setErrorsFor(null),
    onSuccess: (view) => {
      queryClient.setQueryData(['suite', view.id], view);
      void queryClient.invalidateQueries({ queryKey: ['suites'] });
      void navigate(`/suites/${view.id}`);
    },
    onError: (err, body) => {
      if (err instanceof ApiError && err.problem.errors.length) setErrorsFor({ text: body, errors: err.problem.errors });
    },
  });

  const errors = errorsFor?.errors ?? [];
  const diagnostics = useMemo(
    () => (errorsFor ? specErrorsToDiagnostics(errorsFor.text, errorsFor.errors) : []),
    [errorsFor],
  );
  const doSubmit = useCallback(() => {
    if (canWrite && !submit.isPending) submit.mutate(text);
  }, [canWrite, submit, text]);

  return (
    <div className="page page-editor">
      <nav className="crumbs">
        <Link to="/suites">Suites</Link> / New suite
      </nav>
      <header className="page-head row">
        <div>
          <h1>New suite</h1>
          <p className="muted">
            YAML or JSON. Unknown keys are errors; every test is checked before anything starts. Submit with{' '}
            <kbd>Ctrl</kbd>+<kbd>Enter</kbd>.
          </p>
          {!canWrite && (
            <p className="muted small" role="note">
              Your token can only read: the editor works, but submitting needs a token with the write scope.
            </p>
          )}
        </div>
        <div className="actions">
          <label className="inline-label">
            Example{' '}
            <select
              aria-label="Load an example"
              value=""
              onChange={(e) => {
                const ex = EXAMPLES.find((x) => x.id === e.target.value);
                if (ex && (text === ex.text || window.confirm(`Replace the editor's text with the ${ex.title} example?`))) {
                  onChange(ex.text);
                  setErrorsFor(null);
                }
              }}
            >
              <option value="">Load…</option>
              {EXAMPLES.map((ex) => (
                <option key={ex.id} value={ex.id}>
                  {ex.title}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            className="button button-primary"
            onClick={doSubmit}
            disabled={submit.isPending || !canWrite}
            title={canWrite ? undefined : READ_ONLY_WHY}
          >
            {submit.isPending ? 'Submitting…' : 'Submit suite'}
          </button>
        </div>
      </header>
      {submit.error && (
        <div className="error-box" role="alert">
          <strong>{errors.length > 1 ? `${errors.length} problems` : 'The server refused the suite'}:</strong>{' '}
          {errors.length > 1 ? 'see the marked lines.' : errorMessage(submit.error)}
          {errors.length > 0 && (
            <ul className="spec-errors">
              {errors.map((e, i) => (
                <li key={i}>
                  <button
                    type="button"
                    className="link-button"
                    onClick={() => setFocusAt({ pos: diagnostics[i]?.from ?? 0, n: Date.now() })}
                  >
                    {specErrorPosition(e) || 'document'}
                  </button>{' '}
                  {e.path && <code>{e.path}</code>} {e.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <div className="editor-frame">
        <YamlEditor value={text} onChange={onChange} diagnostics={diagnostics} onSubmit={doSubmit} focusAt={focusAt} />
      </div>
      <p className="hint">
        {EXAMPLES.map((ex) => (
          <span key={ex.id}>
            <strong>{ex.title}:</strong> {ex.note}{' '}
          </span>
        ))}
      </p>
    </div>
  );
}
