import { describe, expect, it } from 'vitest';
import { normalizeTimestamp } from '../../src/import/index.js';

describe('import timestamps', () => {
  it('keeps timestamps written as in the original dump', () => {
    expect(normalizeTimestamp('2021-10-01 06:01:40')).toBe('2021-10-01 06:01:40');
  });

  it('accepts ISO timestamps with T and fractional seconds', () => {
    expect(normalizeTimestamp('2021-10-01T06:01:40')).toBe('2021-10-01 06:01:40');
    expect(normalizeTimestamp('2021-10-01 06:01:40.5')).toBe('2021-10-01 06:01:40.5');
    expect(normalizeTimestamp('2021-10-01T06:01:40.123456')).toBe('2021-10-01 06:01:40.123456');
  });

  it('reads a timestamp without a zone as UTC and converts zoned ones to UTC', () => {
    expect(normalizeTimestamp('2021-10-01T06:01:40Z')).toBe('2021-10-01 06:01:40');
    expect(normalizeTimestamp('2021-10-01T02:01:40+03:00')).toBe('2021-09-30 23:01:40');
    expect(normalizeTimestamp('2021-12-31T23:30:00.25-0100')).toBe('2022-01-01 00:30:00.25');
  });

  it.each([
    '',
    '2021-10-01',
    '2021-10-01 6:01:40',
    '01.10.2021 06:01:40',
    '2021-13-01 00:00:00',
    '2021-02-29 00:00:00',
    '2021-04-31 00:00:00',
    '2021-10-01 24:00:00',
    '2021-10-01 06:60:00',
    '2021-10-01 06:01:40 ',
    '1633068100',
    'yesterday',
  ])('rejects %j', (text) => {
    expect(normalizeTimestamp(text)).toBeUndefined();
  });

  it('knows leap years', () => {
    expect(normalizeTimestamp('2020-02-29 12:00:00')).toBe('2020-02-29 12:00:00');
    expect(normalizeTimestamp('1900-02-29 12:00:00')).toBeUndefined();
  });
});
