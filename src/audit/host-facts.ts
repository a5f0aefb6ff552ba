import { readFile, readdir, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { parseDaemonJson, type ParsedDaemonJson } from '../daemon/daemon-json.js';
import { readDockerUnit, dockerdFlags, type DaemonFlag } from '../daemon/systemd-unit.js';
import { BOOLEAN_FLAGS, configKeyOfFlag } from '../daemon/known-keys.js';
import { atRoot, resolveAtRoot, DAEMON_JSON, GROUP, PASSWD } from '../daemon/paths.js';
import { DockwardError } from '../util/errors.js';

/**
 * What the Docker host itself says: daemon.json, the unit and its drop-ins, the flags dockerd
 * runs with, the socket, the docker group. Read under `root` (`--root DIR` for images and
 * tests); the running process is looked up in /proc only when the root is this machine's.
 */
export interface FileFacts {
  /** Path on the target system. */
  path: string;
  mode: number;
  uid: number;
  gid: number;
}

export interface HostFacts {
  root: string;
  configPath: string;
  parsed?: ParsedDaemonJson;
  /** dockerd's flags, and where they were read. */
  flags: DaemonFlag[];
  flagsFrom: string;
  /** The running dockerd, when found in /proc. */
  process?: { pid: number; uid: number; args: string[] };
  /** daemon.json, the unit and its drop-ins, with their modes. */
  configFiles: FileFacts[];
  /** The socket the audited daemon is reached through, as a file of the target system. */
  socket?: FileFacts;
  groups: Map<number, string>;
  dockerGroup?: { gid: number; members: string[] };
}

/** A daemon setting as in effect from the host's files: a flag wins (dockerd refuses both), then daemon.json. */
export interface Setting {
  value: unknown;
  source: string;
}

async function fileFacts(root: string, path: string): Promise<FileFacts | undefined> {
  let st: Stats;
  try {
    st = await stat(atRoot(root, path));
  } catch {
    return undefined;
  }
  return { path, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/** The running dockerd whose -H names this socket (or, for the stock socket, one started by systemd with fd://). */
async function findProcess(socketPath: string): Promise<HostFacts['process']> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((p) => /^\d+$/.test(p));
  const candidates: NonNullable<HostFacts['process']>[] = [];
  for (const pid of pids) {
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (comm.trim() !== 'dockerd') continue;
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean);
    const st = await stat(`/proc/${pid}`).catch(() => undefined);
    if (args.length && st) candidates.push({ pid: Number(pid), uid: st.uid, args });
  }
  const names = (args: string[]) => args.some((a, i) => a.endsWith(`unix://${socketPath}`) && (a.includes('=') || /^(-H|--host)$/.test(args[i - 1] ?? '')));
  const own = candidates.filter((c) => names(c.args));
  if (own.length === 1) return own[0];
  const stock = ['/var/run/docker.sock', '/run/docker.sock'].includes(socketPath) ? candidates.filter((c) => c.args.includes('fd://') || !c.args.some((a) => /unix:\/\//.test(a))) : [];
  return stock.length === 1 ? stock[0] : undefined;
}

async function readGroups(root: string): Promise<{ groups: Map<number, string>; docker?: { gid: number; members: string[] } }> {
  const groups = new Map<number, string>();
  let docker: { gid: number; members: string[] } | undefined;
  const text = await readFile(atRoot(root, GROUP), 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [name, , gid, members] = line.split(':');
    if (!name || gid === undefined || !/^\d+$/.test(gid)) continue;
    groups.set(Number(gid), name);
    if (name === 'docker') docker = { gid: Number(gid), members: (members ?? '').split(',').filter(Boolean) };
  }
  if (docker) {
    // A user whose primary group is docker is a member too, without being listed in /etc/group.
    const passwd = await readFile(atRoot(root, PASSWD), 'utf8').catch(() => '');
    for (const line of passwd.split('\n')) {
      const [user, , , gid] = line.split(':');
      if (user && gid === String(docker.gid) && !docker.members.includes(user)) docker.members.push(user);
    }
  }
  return { groups, docker };
}

export async function collectHostFacts(root: string, socketPath: string): Promise<HostFacts> {
  const unit = await readDockerUnit(root);
  const proc = root === '/' ? await findProcess(socketPath) : undefined;
  let flags: DaemonFlag[] = [];
  let flagsFrom = 'no dockerd command line found';
  if (proc) {
    const words = proc.args.map((a) => ({ raw: a, value: a }));
    flags = dockerdFlags({ source: `/proc/${proc.pid}/cmdline`, line: proc.args.join(' '), words }, {});
    flagsFrom = `/proc/${proc.pid}/cmdline`;
  } else if (unit.execStart) {
    flags = dockerdFlags(unit.execStart, unit.env);
    flagsFrom = unit.execStart.source;
  }
  const configPath = flags.find((f) => f.name === 'config-file')?.value ?? DAEMON_JSON;
  const resolved = await resolveAtRoot(root, configPath);
  // Absent is a fact (dockerd's defaults); unreadable is not, and guessing would report settings that may be fine.
  const configText = await readFile(atRoot(root, resolved), 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new DockwardError(`cannot read ${configPath}: ${e.code ?? e.message}`, 'run dockward audit as a user who can read the Docker configuration (root)');
  });
  const unitPaths = [unit.fragment?.path, ...unit.dropIns.map((d) => d.path)].filter((p): p is string => !!p);
  const configFiles = (await Promise.all([resolved, ...unitPaths].map((p) => fileFacts(root, p)))).filter((f): f is FileFacts => !!f);
  const socket = await fileFacts(root, socketPath);
  const { groups, docker } = await readGroups(root);
  return {
    root,
    configPath,
    parsed: configText === undefined ? undefined : parseDaemonJson(configText),
    flags,
    flagsFrom,
    process: proc,
    configFiles,
    socket,
    groups,
    dockerGroup: docker,
  };
}

export function setting(h: HostFacts, key: string): Setting | undefined {
  const flagged = h.flags.filter((f) => configKeyOfFlag(f.name) === key);
  if (flagged.length) {
    const values = flagged.map((f) => (BOOLEAN_FLAGS.has(f.name) ? !/^(?:0|f|false)$/i.test(f.value) : f.value));
    return { value: values.length === 1 && key !== 'hosts' && key !== 'insecure-registries' ? values[0] : values, source: `--${flagged[0]!.name} (${h.flagsFrom})` };
  }
  const cfg = h.parsed?.config;
  if (cfg && key in cfg) return { value: cfg[key], source: h.configPath };
  return undefined;
}

/** Reads a file of the target system, for the TLS material a setting names. */
export function readAtRoot(h: HostFacts, path: string): Promise<Buffer> {
  return readFile(atRoot(h.root, path));
}
