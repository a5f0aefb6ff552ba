import type { Command } from 'commander';

/** Every part registers its subcommands here; the CLI layer only parses and delegates. */
export function registerCommands(_program: Command): void {}
