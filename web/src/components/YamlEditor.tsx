/**
 * CodeMirror 6 with YAML highlighting; the server's errors arrive as diagnostics (red
 * underline at the line and column, marker in the gutter, message on hover).
 */
import { yaml } from '@codemirror/lang-yaml';
import { lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { EditorState } from '@codemirror/state';
import { EditorView, keymap } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { useEffect, useRef } from 'react';
import type { EditorDiagnostic } from '../api/problem.ts';

export interface YamlEditorProps {
  value: string;
  onChange: (value: string) => void;
  diagnostics: EditorDiagnostic[];
  onSubmit?: () => void;
  /** Bumped to scroll the editor to a position. */
  focusAt?: { pos: number; n: number } | null;
}

export function YamlEditor({ value, onChange, diagnostics, onSubmit, focusAt }: YamlEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  const onSubmitRef = useRef(onSubmit);
  onSubmitRef.current = onSubmit;

  useEffect(() => {
    if (!host.current) return;
    const v = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          yaml(),
          lintGutter(),
          EditorView.lineWrapping,
          keymap.of([
            {
              key: 'Mod-Enter',
              run: () => {
                onSubmitRef.current?.();
                return true;
              },
            },
          ]),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) onChangeRef.current(u.state.doc.toString());
          }),
          EditorView.theme({
            '&': { fontSize: '13px', height: '100%' },
            '.cm-scroller': { fontFamily: 'var(--mono)' },
          }),
        ],
      }),
    });
    view.current = v;
    return () => {
      v.destroy();
      view.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- created once; value syncs below
  }, []);

  // External value changes (example picker, reset).
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
    }
  }, [value]);

  useEffect(() => {
    const v = view.current;
    if (!v) return;
    const len = v.state.doc.length;
    const diags: Diagnostic[] = diagnostics.map((d) => ({
      from: Math.min(d.from, len),
      to: Math.min(Math.max(d.to, d.from), len),
      severity: d.severity,
      message: d.message,
    }));
    v.dispatch(setDiagnostics(v.state, diags));
  }, [diagnostics]);

  useEffect(() => {
    const v = view.current;
    if (!v || !focusAt) return;
    const pos = Math.min(focusAt.pos, v.state.doc.length);
    v.dispatch({ selection: { anchor: pos }, effects: EditorView.scrollIntoView(pos, { y: 'center' }) });
    v.focus();
  }, [focusAt]);

  return <div className="editor" ref={host} />;
}
