import { z } from 'zod';
import { ValidationError } from '../errors/index.js';

export const MAX_LIMIT = 100;
export const DEFAULT_LIMIT = 5;

// ISO 8601 date-time as Python's datetime.isoformat() writes it (the original checker's
// format): 'T' or space, seconds optional, any fraction (microseconds are common), optional
// Z or ±HH:MM. A time without a zone is UTC, as everywhere in the data.
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Parses an ISO 8601 date or date-time into epoch milliseconds, or undefined if invalid. */
export function parseIsoTime(text: string): number | undefined {
  const m = ISO.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  const ms = Math.floor(Number(`0.${frac || '0'}`) * 1000);
  const utc = Date.UTC(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], ms);
  // Date.UTC rolls over (Feb 30 → Mar 2); a real date round-trips to the same fields.
  const back = new Date(utc);
  if (
    back.getUTCFullYear() !== parts[0] ||
    back.getUTCMonth() !== parts[1] ||
    back.getUTCDate() !== parts[2] ||
    back.getUTCHours() !== parts[3] ||
    back.getUTCMinutes() !== parts[4] ||
    back.getUTCSeconds() !== parts[5]
  ) {
    return undefined;
  }
  if (!zone || zone.toUpperCase() === 'Z') return utc;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
  return utc - sign * offsetMin * 60_000;
}

const userId = z
  .string({ error: 'is required' })
  .regex(/^\d+$/, 'must be a positive integer')
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be a positive integer').max(2_147_483_647, 'is too large'));

const time = z.string({ error: 'is required' }).transform((v, ctx) => {
  const ms = parseIsoTime(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 date-time, e.g. 2021-12-01T10:00:00' });
    return z.NEVER;
  }
  return ms;
});

const limit = z
  .string()
  .regex(/^\d+$/, `must be an integer from 1 to ${MAX_LIMIT}`)
  .transform(Number)
  .pipe(
    z
      .number()
      .int()
      .min(1, `must be an integer from 1 to ${MAX_LIMIT}`)
      .max(MAX_LIMIT, `must be an integer from 1 to ${MAX_LIMIT}`),
  )
  .optional()
  .transform((v) => v ?? DEFAULT_LIMIT);

export const recommendationsQuery = z.object({ id: userId, time, limit });

export interface RecommendationsQuery {
  userId: number;
  timeMs: number;
  limit: number;
}

/** Validates the query string or throws ValidationError naming every bad parameter. */
export function parseRecommendationsQuery(query: Record<string, string | undefined>): RecommendationsQuery {
  const parsed = recommendationsQuery.safeParse(query);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({
      path: i.path.join('.') || '(query)',
      message: i.message,
    }));
    const names = [...new Set(issues.map((i) => i.path))].join(', ');
    throw new ValidationError(`invalid query parameter${issues.length > 1 ? 's' : ''}: ${names}`, issues);
  }
  return { userId: parsed.data.id, timeMs: parsed.data.time, limit: parsed.data.limit };
}
