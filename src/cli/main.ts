import { Command, CommanderError } from 'commander';
import { FeedrecError } from '../errors/index.js';
import { registerCommands } from './commands.js';

/** `feedrec <command>`: every offline job and the server. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('feedrec')
    .description('feedrec: post recommendations for the karpov.courses social network')
    .showHelpAfterError()
    .exitOverride();
  registerCommands(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof FeedrecError) {
      console.error(`feedrec: ${err.name}: ${err.message}`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}
