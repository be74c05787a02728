/**
 * "What was measured", from the suite's report: PostgreSQL, the machines and the load tool
 * (said once when every test shares them), each test's command line, and its settings against
 * the baseline's; every setting not at its built-in default behind a toggle.
 */
import { Fragment } from 'react';
import type { Environment, PgSetting, Report } from '../api/types.ts';
import { diffValue, environmentFacts, humanSetting, isEmptyEnvironment, sharedFacts, type EnvironmentFacts } from '../lib/environment.ts';
import { faultSummary } from '../lib/fault.ts';

/** A setting's name, breakable after its underscores (a narrow column), copied whole. */
function SettingName({ name }: { name: string }) {
  const parts = name.split('_');
  return (
    <>
      {parts.map((p, i) => (
        <Fragment key={i}>
          {p}
          {i < parts.length - 1 && (
            <>
              _<wbr />
            </>
          )}
        </Fragment>
      ))}
    </>
  );
}

const FACTS: { key: keyof EnvironmentFacts; label: string }[] = [
  { key: 'postgres', label: 'Database' },
  { key: 'database', label: 'Database machine' },
  { key: 'loader', label: 'Load machine' },
  { key: 'tool', label: 'Load tool' },
];

function Facts({ facts }: { facts: Partial<Record<keyof EnvironmentFacts, string | null>> }) {
  const shown = FACTS.filter((f) => facts[f.key]);
  if (!shown.length) return null;
  return (
    <dl className="facts env-facts">
      {shown.map((f) => (
        <div key={f.key}>
          <dt>{f.label}</dt>
          <dd>{facts[f.key]}</dd>
        </div>
      ))}
    </dl>
  );
}

function SettingsDiff({ env }: { env: Environment }) {
  if (!env.vs_baseline.length) return <p className="small muted">Same PostgreSQL settings as the baseline.</p>;
  return (
    <table className="table table-compact settings-diff" aria-label={`Settings of ${env.test} against the baseline`}>
      <thead>
        <tr>
          <th>Setting</th>
          <th>Baseline</th>
          <th>This test</th>
        </tr>
      </thead>
      <tbody>
        {env.vs_baseline.map((d) => {
          const base = diffValue(d.baseline);
          const mine = diffValue(d.this);
          return (
            <tr key={d.name}>
              <td className="mono setting-name">
                <SettingName name={d.name} />
              </td>
              <td className={base.isDefault ? 'muted' : undefined} title={d.baseline ?? 'the built-in default'}>
                {base.text}
              </td>
              <td className={mine.isDefault ? 'muted' : 'strong'} title={d.this ?? 'the built-in default'}>
                {mine.text}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function ChangedSettings({ settings }: { settings: PgSetting[] }) {
  if (!settings.length) return null;
  return (
    <details className="changed-settings">
      <summary className="small">
        All {settings.length} settings not at their built-in default
      </summary>
      <table className="table table-compact" aria-label="Settings not at their built-in default">
        <thead>
          <tr>
            <th>Setting</th>
            <th>Value</th>
            <th>Built-in</th>
          </tr>
        </thead>
        <tbody>
          {settings.map((s) => (
            <tr key={s.name} title={`from: ${s.source}`}>
              <td className="mono setting-name">
                <SettingName name={s.name} />
              </td>
              <td title={s.unit ? `${s.setting} × ${s.unit} (from: ${s.source})` : `from: ${s.source}`}>{humanSetting(s.setting, s.unit)}</td>
              <td className="muted">{s.boot_val === null || s.boot_val === undefined ? '' : humanSetting(s.boot_val, s.unit)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

export function Measured({ report, baseline }: { report: Report; baseline: string | null }) {
  const envs = report.environments;
  if (envs.every(isEmptyEnvironment)) return <p className="muted">No test measured anything.</p>;
  // Facts shared by the tests that ran (one that never did has none to differ with).
  const shared = sharedFacts(envs.filter((e) => !isEmptyEnvironment(e)));
  return (
    <>
      <Facts facts={shared} />
      <div className="env-tests">
        {envs.map((e) => {
          if (isEmptyEnvironment(e)) {
            return (
              <section key={e.test} className="env-test" aria-label={`Environment of ${e.test}`}>
                <h3>
                  {e.test}
                  {e.test === baseline && <span className="tag">baseline</span>}
                </h3>
                <p className="small muted">Not measured.</p>
              </section>
            );
          }
          const own = environmentFacts(e);
          const unshared = Object.fromEntries(FACTS.map((f) => [f.key, shared[f.key] ? null : own[f.key]]));
          return (
            <section key={e.test} className="env-test" aria-label={`Environment of ${e.test}`}>
              <h3>
                {e.test}
                {e.test === baseline && <span className="tag">baseline</span>}
              </h3>
              <Facts facts={unshared} />
              {e.fault && (
                <p className="small env-fault">
                  <strong>Fault:</strong> {faultSummary(e.fault, e.outage)}
                </p>
              )}
              {e.command && (
                <>
                  <div className="env-label">Command{e.tool ? ` (${e.tool})` : ''}</div>
                  <pre className="command">{e.command}</pre>
                </>
              )}
              <div className="env-label">Settings against the baseline</div>
              {e.test === baseline ? <p className="small muted">This is the baseline.</p> : <SettingsDiff env={e} />}
              <ChangedSettings settings={e.changed_settings} />
            </section>
          );
        })}
      </div>
    </>
  );
}
