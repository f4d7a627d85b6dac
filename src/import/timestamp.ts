// Timestamps of feed_data as the original dump writes them (`2021-10-01 06:01:40`), plus the ISO
// form with `T`, optional fractional seconds and an optional zone. feed_data.timestamp has no time
// zone and always means UTC, so a zoned value is converted to UTC before it is stored.

const PATTERN = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Returns the timestamp as `YYYY-MM-DD HH:MM:SS[.fff]` in UTC, or undefined when the text is not a
 * valid timestamp. Validated here rather than left to the database so that a bad value is reported
 * with its file line, which COPY cannot do.
 */
export function normalizeTimestamp(text: string): string | undefined {
  const m = PATTERN.exec(text);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  const fraction = m[7] ?? '';
  const zone = m[8];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  if (zone === undefined || zone === 'Z' || /^[+-]00:?(00)?$/.test(zone)) {
    return `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]}${fraction}`;
  }
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const offsetHours = Number(digits.slice(0, 2));
  const offsetMinutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const utc = new Date(
    Date.UTC(year, month - 1, day, hour, minute, second) - sign * (offsetHours * 60 + offsetMinutes) * 60_000,
  );
  // Date.UTC maps years 0..99 to 1900..1999; zoned timestamps that far back are not feed data.
  if (year < 100 || utc.getUTCFullYear() < 1) return undefined;
  return (
    `${pad(utc.getUTCFullYear(), 4)}-${pad(utc.getUTCMonth() + 1)}-${pad(utc.getUTCDate())} ` +
    `${pad(utc.getUTCHours())}:${pad(utc.getUTCMinutes())}:${pad(utc.getUTCSeconds())}${fraction}`
  );
}
