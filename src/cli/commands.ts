import type { Command } from 'commander';
import { registerWorldCommand } from '../world/cli.js';
import { registerFeaturesCommand } from '../features/cli.js';

/** Each command module registers itself here; the list is the CLI's table of contents. */
export function registerCommands(program: Command): void {
  registerFeaturesCommand(program);
  registerWorldCommand(program);
}
