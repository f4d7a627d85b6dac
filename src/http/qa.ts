import { createHash, timingSafeEqual } from 'node:crypto';
import { ForbiddenError, ValidationError } from '../errors/index.js';
import { expGroupHeader } from './contract.js';
import type { ExpGroup } from './types.js';

export const GROUP_HEADER = 'x-exp-group';
export const TOKEN_HEADER = 'x-qa-token';

// Hashing both sides first gives equal-length buffers, so the comparison time says nothing
// about the token's length or its common prefix with the guess.
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * The group a QA tester forces with X-Exp-Group, or undefined when the header is absent.
 * Forcing needs X-QA-Token equal to the configured token; with no token configured nobody can
 * force, so a forced header is always refused (403) rather than silently ignored.
 */
export function forcedGroup(
  header: string | undefined,
  token: string | undefined,
  configuredToken: string | undefined,
): ExpGroup | undefined {
  if (header === undefined) return undefined;
  if (configuredToken === undefined || token === undefined || !sameSecret(token, configuredToken)) {
    throw new ForbiddenError('X-Exp-Group needs a valid X-QA-Token');
  }
  // Exactly the values /openapi.json lists: the same schema decides.
  const group = expGroupHeader.safeParse(header);
  if (!group.success) {
    throw new ValidationError('invalid header: X-Exp-Group', [
      { path: 'X-Exp-Group', message: 'must be "control" or "test"' },
    ]);
  }
  return group.data;
}
