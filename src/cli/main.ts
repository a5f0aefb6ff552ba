#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { errorLine, DockwardError } from '../util/errors.js';
import { registerCommands } from './commands.js';

const program = new Command('dockward')
  .description('Make the Docker daemon safe to reach and safe to share.')
  .version('0.1.0')
  // One line, like every other error: `dockward: <message> (<hint>)`.
  .configureOutput({ outputError: (text, write) => write(`dockward: ${text.replace(/^error: /, '').trimEnd()} (add --help for usage)\n`) })
  .exitOverride();

await registerCommands(program, process.argv.slice(2));

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // commander already printed its message; help and version are successes.
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(`dockward: ${errorLine(e)}\n`);
    process.exitCode = e instanceof DockwardError ? e.exitCode : 1;
  }
}
