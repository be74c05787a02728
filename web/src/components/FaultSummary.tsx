/**
 * A test's scheduled fault in a line, beside the load's TPS chart (the run page) and under
 * its topology (the suite page): what was done to the primary and when, how long no
 * transaction completed, how often the load started again, and how the cluster came back.
 */
import type { FaultInjected, Outage } from '../api/types.ts';
import { faultSummary } from '../lib/fault.ts';

export function FaultSummary({
  fault,
  outage,
  windowStartMs,
  chart = false,
}: {
  fault: FaultInjected;
  outage?: Outage | null | undefined;
  /** The measured window's start (epoch ms): the fault's time is said from it. */
  windowStartMs?: number | null | undefined;
  /** Beside a chart that draws the fault: say how. */
  chart?: boolean;
}) {
  return (
    <section className="fault-summary" aria-label="Fault">
      <h3>Fault</h3>
      <p>{faultSummary(fault, outage, windowStartMs)}</p>
      {chart && (
        <p className="muted small">
          <span className="fault-key fault-key-line" aria-hidden="true" /> the fault
          {outage && (
            <>
              {' '}
              · <span className="fault-key fault-key-band" aria-hidden="true" /> no transaction completed
            </>
          )}
        </p>
      )}
    </section>
  );
}
