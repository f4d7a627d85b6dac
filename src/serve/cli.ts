import type { Command } from 'commander';
import { configFrom, withDataOptions, type DataFlags } from '../cli/common.js';
import { runService } from './service.js';

interface ServeFlags extends DataFlags {
  mode?: 'ab' | 'control' | 'test';
  port?: string;
  rankAll?: boolean;
  modelsDir?: string;
}

export function registerServeCommand(program: Command): void {
  withDataOptions(
    program
      .command('serve')
      .description('serve GET /post/recommendations/ (builds the demo world on an empty embedded database)')
      .option('--mode <mode>', 'ab (default), control or test')
      .option('--port <port>', 'listen port (default 8000)')
      .option('--rank-all', 'rank every post with the model instead of two stages')
      .option('--models-dir <dir>', 'models folder (default: ./models)'),
  ).action(async (flags: ServeFlags) => {
    const cfg = configFrom(flags, {
      mode: flags.mode,
      port: flags.port === undefined ? undefined : Number(flags.port),
      modelsDir: flags.modelsDir,
      serving: { rankAll: flags.rankAll },
    });
    await runService(cfg);
  });
}
