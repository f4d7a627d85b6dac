// Which database failures are worth waiting out. A connection that is refused, dropped or timed
// out comes back when Postgres does; a statement the server rejects (bad data, a constraint,
// syntax, permissions) fails the same way every time, so retrying it only blocks what follows.

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

// SQLSTATE classes: 08 connection exception, 53 insufficient resources (too many connections),
// 57 operator intervention (shutdown, starting up, statement timeout), 58 system error; and the
// two transaction rollbacks that succeed when run again.
const TRANSIENT_SQLSTATE = /^(08|53|57|58)|^40001$|^40P01$/;

// node-postgres reports a dropped or timed-out connection without any code.
const DROPPED =
  /terminat|connect|timeout|timed out|socket|ended|closed|not queryable|pool after calling end/i;

/** True when `err` (or its cause) says the database could not be reached or dropped the connection. */
export function isConnectionError(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return TRANSIENT_SQLSTATE.test(code);
    const cause = (e as { cause?: unknown }).cause;
    if (cause === undefined) return e instanceof Error && DROPPED.test(e.message);
    e = cause;
  }
  return false;
}
