/**
 * What the signed-in token may do (`GET /me`), so the pages offer only what the server will
 * take. The server enforces it regardless: this only spares a read-only user a refusal.
 *
 * One rule for every write (submit a suite, cancel a suite or a run, replay): a control in a
 * page's header or a task's panel stays, disabled, with READ_ONLY_WHY as its tooltip, so the
 * reader sees the action exists and why it is not theirs; a per-row shortcut repeated down a
 * list (the suites list's Cancel) is hidden instead, its page having the explained one.
 */
import type { Me } from '../api/types.ts';

/** The tooltip of a write control the token may not use. */
export const READ_ONLY_WHY = 'your token can only read';

/**
 * Whether to offer writes: the answer of `/me`; yes while it is on its way or when it failed
 * (an older server without `/me`, a 5xx): the server still refuses a write it must.
 */
export function canWriteFrom(me: Me | undefined): boolean {
  return me?.can_write ?? true;
}

/** The tooltip of an admin-only control (destroying a deployment) the token may not use. */
export const ADMIN_ONLY_WHY = 'only a token with the admin scope can do this';

/**
 * Whether to offer admin-only actions (destroying a deployment by hand): the token has the
 * `admin` scope; yes while `/me` is on its way or when it failed, as for writes.
 */
export function canAdminFrom(me: Me | undefined): boolean {
  return me ? me.scopes.includes('admin') : true;
}

/** The token's broadest scope, for the sidebar: `admin`, `write` or `read` (else whatever it has). */
export function tokenScope(me: Me): string {
  for (const s of ['admin', 'write', 'read']) if (me.scopes.includes(s)) return s;
  return me.scopes.join(', ') || (me.can_write ? 'write' : 'read');
}
