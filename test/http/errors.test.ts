import { describe, expect, it } from 'vitest';
import {
  DatabaseUnavailableError,
  ForbiddenError,
  ModelError,
  NotReadyError,
  OverloadedError,
  UnknownUserError,
  ValidationError,
} from '../../src/errors/index.js';
import { mapError } from '../../src/http/index.js';

describe('error to status mapping', () => {
  it.each([
    [new ValidationError('bad', [{ path: 'id', message: 'x' }]), 422, undefined],
    [new UnknownUserError(5), 404, undefined],
    [new ForbiddenError('no'), 403, undefined],
    [new OverloadedError(2), 503, 2],
    [new NotReadyError(), 503, 1],
    [new DatabaseUnavailableError('down'), 503, 5],
    [new ModelError('corrupt'), 500, undefined],
    [new TypeError('bug'), 500, undefined],
    ['a thrown string', 500, undefined],
  ])('maps %s to %i', (err, status, retryAfter) => {
    const m = mapError(err);
    expect(m.status).toBe(status);
    expect(m.retryAfter).toBe(retryAfter);
    expect(m.body.error).toEqual(expect.any(String));
  });

  it('never leaks internal messages in a 500', () => {
    expect(mapError(new Error('password=hunter2 at db.internal')).body).toEqual({ error: 'internal error' });
  });
});
