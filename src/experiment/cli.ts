import type { Command } from 'commander';
import { registerReportCommand } from './report-cli.js';
import { registerSimulateCommand } from './simulate-cli.js';

/** `feedrec ab …`: the experiment loop around the A/B mode. */
export function registerAbCommand(program: Command): void {
  const ab = program
    .command('ab')
    .description('A/B experiments: simulate traffic against the service, then report');
  registerSimulateCommand(ab);
  registerReportCommand(ab);
}
