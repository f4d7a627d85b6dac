import { z } from 'zod';
import { ValidationError } from '../errors/index.js';

export const MAX_LIMIT = 100;
export const DEFAULT_LIMIT = 5;

// ISO 8601 date-time as Python's datetime.isoformat() writes it (the original checker's
// format): 'T' or space, seconds optional, any fraction (microseconds are common), optional
// Z or ±HH:MM. A time without a zone is UTC, as everywhere in the data. Field ranges are in the
// pattern because it is also the OpenAPI document's pattern (no flags there, hence [Tt] and [Zz]).
export const ISO_DATE_TIME =
  /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?:[Tt ]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:[.,](\d+))?)?)?([Zz]|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?$/;

/** Parses an ISO 8601 date or date-time into epoch milliseconds, or undefined if invalid. */
export function parseIsoTime(text: string): number | undefined {
  const m = ISO_DATE_TIME.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const ms = Math.floor(Number(`0.${frac || '0'}`) * 1000);
  const date = new Date(Date.UTC(2000, 0, 1, Number(h), Number(mi), Number(s), ms));
  // Date.UTC would read years 0–99 as 1900–1999; setUTCFullYear takes them as written.
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  // The pattern bounds every field but the day: Feb 30 rolls over to Mar 2 and is refused.
  if (date.getUTCDate() !== Number(d)) return undefined;
  const utc = date.getTime();
  if (!zone || zone.toUpperCase() === 'Z') return utc;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
  return utc - sign * offsetMin * 60_000;
}

// A query value is text. A plain decimal becomes a number before the integer schema checks its
// range, so the OpenAPI document derived from this schema says "integer from 1 to …" rather than
// "string of digits"; anything else stays text and fails as not an integer ("1e3", " 7", "1.0").
const decimal = (value: unknown) =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;

const POSITIVE = 'must be a positive integer';
const userId = z
  .preprocess(
    decimal,
    z
      .int({
        error: (issue) =>
          issue.input === undefined
            ? 'is required'
            : issue.code === 'too_big' || issue.input === Infinity
              ? 'is too large'
              : POSITIVE,
      })
      .min(1, POSITIVE)
      .max(2_147_483_647, 'is too large'),
  )
  .meta({ param: { description: 'The user, as in `user_data.user_id`.', example: 200 } });

const TIME_MESSAGE = 'must be an ISO 8601 date-time, e.g. 2021-12-01T10:00:00';
const time = z
  .string({ error: 'is required' })
  .regex(ISO_DATE_TIME, TIME_MESSAGE)
  .transform((v, ctx) => {
    const ms = parseIsoTime(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: TIME_MESSAGE });
      return z.NEVER;
    }
    return ms;
  })
  .meta({
    param: {
      description:
        'ISO 8601 date-time as Python’s `isoformat()` writes it: `T` or space, seconds and fractional ' +
        'seconds optional; no zone means UTC. The date must exist (2021-02-30 is refused).',
      example: '2021-12-01T10:00:00',
    },
  });

const LIMIT_MESSAGE = `must be an integer from 1 to ${MAX_LIMIT}`;
const limit = z
  .preprocess(decimal, z.int({ error: LIMIT_MESSAGE }).min(1, LIMIT_MESSAGE).max(MAX_LIMIT, LIMIT_MESSAGE))
  .default(DEFAULT_LIMIT)
  .meta({ param: { description: 'How many posts to return.' } });

/** The query of GET /post/recommendations/: what the handler validates and what /openapi.json shows. */
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
    // One message per parameter: a huge id fails both the safe-integer and the range check.
    const byPath = new Map<string, string>();
    for (const i of parsed.error.issues) {
      const path = i.path.join('.') || '(query)';
      if (!byPath.has(path)) byPath.set(path, i.message);
    }
    const issues = [...byPath].map(([path, message]) => ({ path, message }));
    const names = [...byPath.keys()].join(', ');
    throw new ValidationError(`invalid query parameter${issues.length > 1 ? 's' : ''}: ${names}`, issues);
  }
  return { userId: parsed.data.id, timeMs: parsed.data.time, limit: parsed.data.limit };
}
