import type { Command } from 'commander';

/** Each command module registers itself here; the list is the CLI's table of contents. */
export function registerCommands(program: Command): void {
  void program;
}
