import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, readFile, readdir, open, chmod } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join, dirname, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { engineRequest, pingSocket } from './engine-client.js';

/**
 * A dockerd on private paths: its own data-root, exec-root, pidfile, socket and containerd
 * namespace, so it never touches (or is confused with) the host's daemon. Used by daemon
 * hardening to prove a candidate configuration and by the test harness.
 */
export interface PrivateDaemonOptions {
  /** Extra dockerd flags (e.g. TLS flags, `--config-file`). */
  args?: string[];
  /** Keep iptables management on (needed for `icc: false`). */
  iptables?: boolean;
  /** Seconds to wait for `/_ping` to answer. */
  startTimeoutSec?: number;
  /** Parent directory for the private state; a short path keeps the socket under 108 bytes. */
  baseDir?: string;
  dockerdPath?: string;
  /** Directories searched before PATH for what dockerd starts itself (containerd, its shim, docker-init). */
  binDirs?: string[];
}

export interface PrivateDaemon {
  dir: string;
  socketPath: string;
  pid: number;
  /** Everything dockerd wrote to stdout/stderr so far. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export class DaemonStartError extends Error {
  constructor(message: string, readonly daemonLog: string) {
    super(message);
  }
}

export async function startPrivateDaemon(opts: PrivateDaemonOptions = {}): Promise<PrivateDaemon> {
  const dir = await mkdtemp(join(opts.baseDir ?? tmpdir(), 'dw-d-'));
  // With userns-remap the remapped root must traverse to its data; 0711 still hides the listing.
  await chmod(dir, 0o711);
  const socketPath = join(dir, 'docker.sock');
  const logPath = join(dir, 'dockerd.log');
  const ns = `dockward-${randomBytes(4).toString('hex')}`;
  const args = [
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '--pidfile', join(dir, 'dockerd.pid'),
    '-H', `unix://${socketPath}`,
    '--containerd-namespace', ns,
    '--containerd-plugins-namespace', `${ns}-plugins`,
    '--bridge=none',
    '--storage-driver=vfs',
    ...(opts.iptables ? [] : ['--iptables=false']),
    ...(opts.args ?? []),
  ];
  const logFile = await open(logPath, 'a');
  let child: ChildProcess;
  try {
    const env = opts.binDirs?.length ? { ...process.env, PATH: [...opts.binDirs, process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'].join(':') } : process.env;
    child = spawn(opts.dockerdPath ?? 'dockerd', args, {
      stdio: ['ignore', logFile.fd, logFile.fd],
      detached: true,
      env,
    });
  } finally {
    await logFile.close();
  }
  const log = async () => readFile(logPath, 'utf8').catch(() => '');
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', () => {
      exited = { code: -1, signal: null };
      resolve();
    });
  });
  const pid = child.pid;
  const cleanup = async () => {
    const bridges = exited ? [] : await bridgesOf(socketPath);
    if (!exited && pid) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const killTimer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 15_000);
      await exitPromise;
      clearTimeout(killTimer);
    }
    await releaseMountsUnder(dir);
    await removeLinks(bridges);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
    // userns-remap makes remapped copies of the state dirs beside ours (`<dir>.<uid>.<gid>`).
    const siblings = await readdir(dirname(dir)).catch(() => [] as string[]);
    const remapped = siblings.filter((n) => n.startsWith(`${basename(dir)}.`));
    await Promise.all(remapped.map((n) => rm(join(dirname(dir), n), { recursive: true, force: true })));
  };

  const deadline = Date.now() + (opts.startTimeoutSec ?? 60) * 1000;
  while (true) {
    if (exited) {
      const text = await log();
      await cleanup();
      throw new DaemonStartError(
        `dockerd exited during start (code ${exited.code ?? exited.signal}): ${lastError(text)}`,
        text,
      );
    }
    if (await pingSocket(socketPath)) break;
    if (Date.now() > deadline) {
      const text = await log();
      await cleanup();
      throw new DaemonStartError('dockerd did not answer /_ping in time', text);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { dir, socketPath, pid: pid!, log, stop: cleanup };
}

const execFileP = promisify(execFile);

/**
 * The host bridges of a daemon's networks (user-defined bridge networks, swarm's
 * docker_gwbridge). dockerd leaves them behind when it stops, each with an address: enough of
 * them and the next daemon finds no free address pool ("could not find an available, non-overlapping
 * IPv4 address pool"), so a test run would depend on what earlier runs left.
 */
async function bridgesOf(socketPath: string): Promise<string[]> {
  try {
    const res = await engineRequest({ socketPath }, 'GET', '/networks', { timeoutMs: 5000 });
    if (res.status !== 200) return [];
    const nets = JSON.parse(res.body.toString('utf8')) as { Id: string; Driver: string; Options?: Record<string, string> }[];
    return nets.filter((n) => n.Driver === 'bridge').map((n) => n.Options?.['com.docker.network.bridge.name'] || `br-${n.Id.slice(0, 12)}`);
  } catch {
    return [];
  }
}

async function removeLinks(names: string[]): Promise<void> {
  for (const name of names) await execFileP('ip', ['link', 'delete', name]).catch(() => undefined);
}

/**
 * Unmounts whatever is mounted at or below `path`, deepest first. dockerd bind-mounts its
 * data-root onto itself and leaves that mount behind when it refuses to start; removing the
 * directory without this would leak a mount per failed start.
 */
export async function releaseMountsUnder(path: string): Promise<void> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  // mountinfo's fifth field is the mount point, with spaces escaped as \040.
  const points = mounts
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((p): p is string => !!p && (p === path || p.startsWith(path + '/')))
    .sort((a, b) => b.length - a.length);
  for (const p of points) await execFileP('umount', [p]).catch(() => execFileP('umount', ['-l', p]).catch(() => undefined));
}

/** The line of dockerd's log that explains a failed start, without its timestamp noise. */
export function lastError(log: string): string {
  const lines = log.trim().split('\n').filter(Boolean);
  const failing = lines.reverse().find((l) => /level=(fatal|error)|failed to start daemon|unable to configure|^Status: /i.test(l));
  const line = failing ?? lines[0] ?? '(no output)';
  const msg = /msg="((?:[^"\\]|\\.)*)"/.exec(line);
  // A flag dockerd cannot parse: "Status: invalid argument ... for "-H, --host" flag: ...".
  return msg?.[1]?.replace(/\\"/g, '"') ?? line.replace(/^Status: /, '');
}
