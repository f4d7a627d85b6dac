import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';

describe('config', () => {
  it('has working defaults for a newcomer: A/B mode on port 8000 with PGlite in ./data', () => {
    const cfg = loadConfig({});
    expect(cfg.mode).toBe('ab');
    expect(cfg.port).toBe(8000);
    expect(cfg.databaseUrl).toBeUndefined();
    expect(cfg.dataDir.endsWith('/data')).toBe(true);
    expect(cfg.serving.rankAll).toBe(false);
    expect(cfg.ab.testShare).toBe(0.5);
  });

  it('reads the environment and lets flags win', () => {
    const cfg = loadConfig({ PORT: '9001', FEEDREC_MODE: 'test', FEEDREC_RANK_ALL: 'false' }, { port: 9002 });
    expect(cfg.port).toBe(9002);
    expect(cfg.mode).toBe('test');
    expect(cfg.serving.rankAll).toBe(false);
    expect(loadConfig({ FEEDREC_RANK_ALL: 'true' }).serving.rankAll).toBe(true);
  });

  it('names every bad key', () => {
    expect(() => loadConfig({ PORT: 'eighty', FEEDREC_MODE: 'both' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'eighty', FEEDREC_MODE: 'both' })).toThrow(/port.*mode|mode.*port/s);
  });

  it('refuses an A/B share that is not a whole number of buckets, naming the key and a valid share', () => {
    // 0.12345 is 1,234.5 buckets: TypeScript would round it up, the Python twin down.
    expect(() => loadConfig({ FEEDREC_AB_TEST_SHARE: '0.12345' })).toThrow(ConfigError);
    expect(() => loadConfig({ FEEDREC_AB_TEST_SHARE: '0.12345' })).toThrow(
      /ab\.testShare: 0\.12345 is 1234\.5 of the 10000 buckets.*e\.g\. 0\.123[45]/,
    );
    expect(loadConfig({ FEEDREC_AB_TEST_SHARE: '0.1234' }).ab.testShare).toBe(0.1234);
    expect(() => loadConfig({}, { ab: { testShare: 1 / 3 } })).toThrow(/whole number of buckets/);
  });
});
