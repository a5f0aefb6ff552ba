import type { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Every part registers its subcommands here; the CLI layer only parses and delegates. A part's
 * modules are loaded only when its command runs: loading all of them (TLS, YAML and schema
 * libraries, the gateway, the daemon planner) on every start made each `dockward pki …` process
 * pay for the gateway, and `pki init` + `server` + `client` are three processes.
 */
const PARTS: Record<string, () => Promise<Register>> = {
  daemon: async () => (await import('./daemon.js')).registerDaemon,
  pki: async () => (await import('./pki.js')).registerPki,
  gateway: async () => (await import('./gateway.js')).registerGateway,
  up: async () => (await import('./up.js')).registerUp,
  connect: async () => (await import('./connect.js')).registerConnect,
  doctor: async () => (await import('./doctor.js')).registerDoctor,
  policy: async () => (await import('./policy.js')).registerPolicy,
  'socket-proxy': async () => (await import('./socket-proxy.js')).registerSocketProxy,
  container: async () => (await import('./container.js')).registerContainer,
  audit: async () => (await import('./audit.js')).registerAudit,
};

/**
 * Registers the part named by the first argument, or every part when there is none or it is not
 * a command (`--help`, `help pki`, a typo), so help and "unknown command" stay complete.
 */
export async function registerCommands(program: Command, args: string[]): Promise<void> {
  const first = args.find((a) => !a.startsWith('-'));
  // hasOwn, not `in`: `dockward constructor` would otherwise call an Object.prototype member.
  const names = first !== undefined && Object.hasOwn(PARTS, first) ? [first] : Object.keys(PARTS);
  for (const name of names) (await PARTS[name]!())(program);
}
