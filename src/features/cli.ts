import type { Command } from 'commander';
import { configFrom, withDataOptions, withDatabase, type DataFlags } from '../cli/common.js';
import { buildFeatures } from './build.js';

export function registerFeaturesCommand(program: Command): void {
  withDataOptions(
    program
      .command('features')
      .description('build user_features, post_features and feature_meta from the three tables'),
  ).action(async (flags: DataFlags) => {
    const cfg = configFrom(flags);
    const stats = await withDatabase(cfg, (db) => buildFeatures(db, (m) => console.error(`features: ${m}`)), {
      create: false,
    });
    console.log(JSON.stringify(stats));
  });
}
