import type { Command } from 'commander';
import { registerImportCommand } from '../import/cli.js';
import { registerWorldCommand } from '../world/cli.js';
import { registerFeaturesCommand } from '../features/cli.js';
import { registerCheckCommand } from '../eval/cli.js';
import { registerReloadCommand, registerServeCommand } from '../serve/cli.js';
import { registerAbCommand } from '../experiment/index.js';
import { registerTrainCommand } from '../training/train-command.js';

/** Each command module registers itself here; the list is the CLI's table of contents. */
export function registerCommands(program: Command): void {
  registerImportCommand(program);
  registerFeaturesCommand(program);
  registerWorldCommand(program);
  registerTrainCommand(program);
  registerCheckCommand(program);
  registerServeCommand(program);
  registerReloadCommand(program);
  registerAbCommand(program);
}
