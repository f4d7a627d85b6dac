import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // PGlite instances and worker pools are heavy; two cores cannot run many files at once.
    maxWorkers: 2,
  },
});
