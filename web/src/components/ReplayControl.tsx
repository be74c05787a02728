/**
 * A replay button with an inline confirm: the first click asks (naming what runs again),
 * the second sends. Shown only for an ended run (see lib/replay.ts); disabled, saying why,
 * for a token that can only read (lib/access.ts). The page owns the request and shows its error.
 */
import { useState } from 'react';
import { READ_ONLY_WHY } from '../lib/access.ts';
import type { ReplayAvailability } from '../lib/replay.ts';

export interface ReplayControlProps {
  /** The button's label, e.g. "Replay run". */
  label: string;
  /** What the confirm asks. */
  question: string;
  availability: ReplayAvailability;
  /** A replay of this run is on its way. */
  pending: boolean;
  onReplay: () => void;
  /** The token may write (`GET /me`); when not, the button stays but cannot be pressed. */
  canWrite?: boolean;
  small?: boolean;
  /** Start with the confirm open (tests). */
  initiallyConfirming?: boolean;
}

export function ReplayControl({
  label,
  question,
  availability: offered,
  pending,
  onReplay,
  canWrite = true,
  small = false,
  initiallyConfirming = false,
}: ReplayControlProps) {
  const [confirming, setConfirming] = useState(initiallyConfirming);
  if (!offered.show) return null;
  const availability = canWrite ? offered : { show: true, enabled: false, why: READ_ONLY_WHY };
  const size = small ? ' button-small' : '';
  if (confirming && availability.enabled && !pending) {
    return (
      <div className="confirm-inline" role="group" aria-label={`${label}: confirm`}>
        <span>{question}</span>
        <button
          type="button"
          className={`button button-primary${size}`}
          onClick={() => {
            setConfirming(false);
            onReplay();
          }}
        >
          Replay
        </button>
        <button type="button" className={`button${size}`} onClick={() => setConfirming(false)}>
          Don&apos;t replay
        </button>
      </div>
    );
  }
  return (
    <button
      type="button"
      className={`button${size}`}
      disabled={!availability.enabled || pending}
      title={availability.why ?? question}
      onClick={() => setConfirming(true)}
    >
      {pending ? 'Replaying…' : label}
    </button>
  );
}
