import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { planCommand, applyCommand, rollbackCommand, type Output } from '../daemon/commands.js';
import { DAEMON_JSON } from '../daemon/paths.js';
import type { PlanOptions } from '../daemon/plan.js';

interface PlanFlags {
  profile: 'baseline' | 'hardened';
  tls?: boolean;
  listen: string[];
  usernsRemap?: string;
  root: string;
  config?: string;
  pki?: string;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  insecureTcp?: boolean;
  json?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function planOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--profile <name>', 'settings to apply').choices(['baseline', 'hardened']).default('baseline'))
    .option('--tls', 'require mutual TLS on TCP listeners, with the server certificate from the dockward PKI')
    .option('--listen <addr>', 'TCP address to listen on, e.g. tcp://0.0.0.0:2376 (repeatable)', collect, [])
    .option('--userns-remap <user>', "remap container root to a subordinate uid range: 'default' (user dockremap) or USER[:GROUP]")
    .option('--root <dir>', 'apply to another filesystem root (image, chroot, test)', '/')
    .option('--config <path>', `daemon.json on the target (default: the unit's --config-file, else ${DAEMON_JSON})`)
    .option('--pki <dir>', 'dockward PKI directory (default $DOCKWARD_PKI or /etc/dockward/pki)')
    .option('--tlscacert <file>', 'CA certificate instead of the PKI one')
    .option('--tlscert <file>', 'server certificate instead of the PKI one')
    .option('--tlskey <file>', 'server key instead of the PKI one')
    .option('--insecure-tcp', 'allow a TCP listener without TLS (anyone reaching it is root)')
    .option('--json', 'machine-readable output');
}

function toPlanOptions(f: PlanFlags): PlanOptions {
  return {
    root: f.root === '/' ? '/' : resolve(f.root),
    profile: f.profile,
    tls: Boolean(f.tls),
    listen: f.listen,
    usernsRemap: f.usernsRemap,
    configPath: f.config,
    pki: f.pki,
    tlscacert: f.tlscacert && resolve(f.tlscacert),
    tlscert: f.tlscert && resolve(f.tlscert),
    tlskey: f.tlskey && resolve(f.tlskey),
    insecureTcp: Boolean(f.insecureTcp),
    socketPath: '/var/run/docker.sock',
  };
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** stdout, and questions on the terminal when there is one. */
function terminal(): Output {
  return { out: (t) => process.stdout.write(t), ...(process.stdin.isTTY ? { confirm } : {}) };
}

export function registerDaemon(program: Command): void {
  const daemon = program.command('daemon').description('harden dockerd: daemon.json, the systemd unit, subordinate ids; plan, apply, roll back');
  planOptions(daemon.command('plan').description('show what apply would change, why, and the problems found')).action(async (f: PlanFlags) => {
    process.exitCode = await planCommand({ ...toPlanOptions(f), json: f.json }, terminal());
  });
  planOptions(daemon.command('apply').description('validate with a throw-away dockerd, back up, and write the plan'))
    .option('--yes', 'do not ask for confirmation (required without a terminal)')
    .option('--restart', 'restart dockerd afterwards (systemctl)')
    .option('--no-validate', 'write without proving the configuration with a throw-away dockerd')
    .action(async (f: PlanFlags & { yes?: boolean; restart?: boolean; validate: boolean }) => {
      process.exitCode = await applyCommand({ ...toPlanOptions(f), json: f.json, yes: f.yes, restart: f.restart, validate: f.validate }, terminal());
    });
  daemon
    .command('rollback')
    .description('restore the files the last apply replaced')
    .option('--root <dir>', 'filesystem root the apply was made on', '/')
    .option('--force', 'roll back even files changed since apply')
    .option('--json', 'machine-readable output')
    .action(async (f: { root: string; force?: boolean; json?: boolean }) => {
      process.exitCode = await rollbackCommand({ root: f.root === '/' ? '/' : resolve(f.root), force: f.force, json: f.json }, terminal());
    });
}
