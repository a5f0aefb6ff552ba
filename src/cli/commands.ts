import type { Command } from 'commander';
import { registerDaemon } from './daemon.js';
import { registerPki } from './pki.js';
import { registerGateway } from './gateway.js';
import { registerUp } from './up.js';
import { registerConnect } from './connect.js';
import { registerDoctor } from './doctor.js';
import { registerPolicy } from './policy.js';

/** Every part registers its subcommands here; the CLI layer only parses and delegates. */
export function registerCommands(program: Command): void {
  registerDaemon(program);
  registerPki(program);
  registerGateway(program);
  registerUp(program);
  registerConnect(program);
  registerDoctor(program);
  registerPolicy(program);
}
