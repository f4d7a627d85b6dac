import type { Command } from 'commander';
import { configFrom, withDataOptions, type DataFlags } from '../cli/common.js';
import { loadConfig } from '../config/index.js';
import { ValidationError } from '../errors/index.js';
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

/**
 * `feedrec reload --url`: asks a running replica to load the newest models and a fresh feature
 * snapshot. Prints the replica's answer; exits 0 when it swapped, 1 when it refused (the old
 * generation keeps serving) or could not be reached.
 */
export function registerReloadCommand(program: Command): void {
  program
    .command('reload')
    .description('make a running service load the newest models and a fresh feature snapshot (no downtime)')
    .requiredOption('--url <url>', 'the replica, e.g. http://127.0.0.1:8000')
    .option('--token <token>', 'admin token (default: $FEEDREC_ADMIN_TOKEN)')
    .action(async (flags: { url: string; token?: string }) => {
      const token = flags.token ?? loadConfig().adminToken;
      if (!token) throw new ValidationError('reload needs an admin token: --token or FEEDREC_ADMIN_TOKEN');
      const url = new URL('/admin/reload', flags.url);
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      } catch (err) {
        console.error(`feedrec reload: cannot reach ${url.origin}: ${(err as Error).message}`);
        process.exitCode = 1;
        return;
      }
      const body = await res.text();
      (res.ok ? console.log : console.error)(body);
      if (!res.ok) process.exitCode = 1;
    });
}
