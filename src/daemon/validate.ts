import { mkdtemp, mkdir, writeFile, rm, chmod } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startPrivateDaemon, releaseMountsUnder, DaemonStartError, type PrivateDaemon } from '../engine/private-daemon.js';
import type { Dockerd } from './dockerd.js';
import { engineJson, engineRequest } from '../engine/engine-client.js';
import { formatDaemonJson, type DaemonConfig } from './daemon-json.js';
import { configKeyOfFlag } from './known-keys.js';
import type { DaemonFlag } from './systemd-unit.js';
import { atRoot } from './paths.js';
import { isTcpHost } from './hosts.js';
import type { FileChange } from './plan.js';

const execFileP = promisify(execFile);

/**
 * A candidate configuration is proven by starting a throw-away dockerd with it on private paths
 * and seeing it answer: dockerd 20.10 has no `--validate` (it came with 23.0), and even where it
 * exists `--validate` starts nothing, so it cannot tell a logging driver's options or icc without
 * iptables from good ones. What cannot be tried without touching the host is taken out of the
 * throw-away copy and named, so the report never claims more than was proven.
 */

/**
 * Keys the private daemon sets as flags itself (giving them twice would make it refuse to start),
 * or that name the host's own resources, which a throw-away daemon must not use.
 */
const PRIVATE_FLAG_KEYS: Record<string, string> = {
  'data-root': "the host's data-root",
  graph: "the host's data-root",
  'exec-root': "the host's exec-root",
  pidfile: "the host's pidfile",
  'containerd-namespace': 'the containerd namespace',
  'containerd-plugins-namespace': 'the containerd namespace',
  'storage-driver': 'the storage driver (it needs the real data-root)',
  'storage-opts': 'the storage driver options',
  bridge: 'the default bridge settings (the throw-away daemon has no bridge)',
  bip: 'the default bridge settings (the throw-away daemon has no bridge)',
  'fixed-cidr': 'the default bridge settings (the throw-away daemon has no bridge)',
  'fixed-cidr-v6': 'the default bridge settings (the throw-away daemon has no bridge)',
  'default-gateway': 'the default bridge settings (the throw-away daemon has no bridge)',
  'default-gateway-v6': 'the default bridge settings (the throw-away daemon has no bridge)',
  containerd: "the host's containerd (the throw-away daemon runs its own)",
  'metrics-addr': 'the metrics listener (its port is the live daemon\'s)',
  'network-diagnostic-port': "the network diagnostic listener (its port is the live daemon's)",
  'cluster-store': 'the cluster store (the throw-away daemon must not join it)',
  'cluster-store-opts': 'the cluster store (the throw-away daemon must not join it)',
  'cluster-advertise': 'the cluster store (the throw-away daemon must not join it)',
};

/** Keys whose value is a file on the target system. */
const PATH_KEYS = ['tlscacert', 'tlscert', 'tlskey', 'seccomp-profile', 'init-path', 'userland-proxy-path'];

/** Settings dockerd enforces with iptables rules. */
const IPTABLES_KEYS = ['icc', 'userland-proxy', 'ip-masq', 'ip-forward'];

/** How Go's strconv.ParseBool, which reads dockerd's boolean flags, spells false. */
const FALSE = /^(?:0|f|false)$/i;

export interface CandidateOptions {
  root: string;
  /** Files the plan will write: the throw-away daemon reads these instead of the target's. */
  staged?: FileChange[];
  /** Keep the candidate's TCP listeners as they are (acceptance tests); otherwise TLS is tried on 127.0.0.1:0. */
  keepTcp?: boolean;
  /** Keep userns-remap: only where this host's /etc/subuid, /etc/subgid and the remap user are the target's. */
  keepUserns?: boolean;
  /** Let the daemon manage iptables (changes this host's firewall): needed to prove `icc: false`. */
  iptables?: boolean;
  /**
   * dockerd's command-line flags from the unit as it will be (Plan.flags): dockerd refuses a key
   * given both as a flag and in daemon.json, and some flag and file combinations fail only at
   * start. Those that must stay private to the throw-away daemon are left out and named.
   */
  flags?: DaemonFlag[];
  /** The dockerd to prove it with (default: dockerd on PATH). */
  dockerd?: Pick<Dockerd, 'path'> & Partial<Pick<Dockerd, 'version' | 'canValidate'>>;
  /** Directories searched before PATH for what the throw-away dockerd starts (containerd, its shim). */
  binDirs?: string[];
}

export interface CandidateDaemon extends PrivateDaemon {
  /** What the throw-away run could not prove, one phrase each. */
  notValidated: string[];
}

export async function startCandidateDaemon(config: DaemonConfig, opts: CandidateOptions): Promise<CandidateDaemon> {
  const work = await mkdtemp(join(tmpdir(), 'dw-v-'));
  const notValidated = new Set<string>();
  const c: DaemonConfig = structuredClone(config);
  // The unit's flags, each with the daemon.json key it stands for (`-l` is "log-level", `--label` "labels").
  let flags = (opts.flags ?? []).map((f) => ({ name: f.name, key: configKeyOfFlag(f.name), value: f.value }));
  const dropFlags = (keep: (f: (typeof flags)[number]) => boolean) => {
    flags = flags.filter(keep);
  };
  try {
    for (const [key, what] of Object.entries(PRIVATE_FLAG_KEYS)) {
      if (key in c) {
        delete c[key];
        notValidated.add(what);
      }
    }
    dropFlags((f) => {
      const what = PRIVATE_FLAG_KEYS[f.key];
      if (what) notValidated.add(`--${f.name} from the unit: ${what}`);
      // The candidate daemon.json takes the place of the unit's --config-file.
      return !what && f.key !== 'config-file';
    });
    const { copies, onTarget } = stagedFiles(work, opts);
    await targetPaths(c, flags, onTarget);
    const args: string[] = [];
    const fileHosts = Array.isArray(c.hosts) ? (c.hosts as string[]) : [];
    delete c.hosts;
    // -H fd:// cannot work outside systemd, and the helper listens on its own socket.
    const flagHosts = flags.filter((f) => f.key === 'hosts').map((f) => f.value);
    dropFlags((f) => f.key !== 'hosts');
    const hosts = [...fileHosts, ...flagHosts];
    const tcp = hosts.filter(isTcpHost);
    if (opts.keepTcp) for (const h of tcp) args.push('-H', h);
    else if (tcp.length) args.push('-H', `tcp://127.0.0.1:${await freeLoopbackPort()}`);
    const localIn = [fileHosts.some((h) => !isTcpHost(h)) && '"hosts"', flagHosts.some((h) => !isTcpHost(h)) && "the unit's -H"].filter(Boolean);
    if (localIn.length) notValidated.add(`the local sockets in ${localIn.join(' and ')} (fd:// works only under systemd)`);
    if (!opts.keepTcp && tcp.length) notValidated.add(`the TCP addresses ${tcp.join(', ')} (TLS was tried on 127.0.0.1)`);
    const userns = 'userns-remap' in c || flags.some((f) => f.key === 'userns-remap');
    if (userns && !opts.keepUserns) {
      delete c['userns-remap'];
      dropFlags((f) => f.key !== 'userns-remap');
      notValidated.add("userns-remap (it needs the target's remap user and /etc/subuid, /etc/subgid; dockward checked those itself)");
    } else if (userns) {
      // The remapped root must be able to traverse to its data directory, which the private
      // daemon's own 0700 temp dir forbids.
      await chmod(work, 0o711);
    }
    // A data-root of our own (a later --data-root wins over the helper's): dockerd bind-mounts it
    // onto itself and leaves that mount behind when it refuses to start, so it must be ours to unmount.
    const dataRoot = join(work, 'data');
    await mkdir(dataRoot, { mode: 0o711 });
    args.push('--data-root', dataRoot);
    // The helper decides iptables (it changes this host's firewall); a target that has it off
    // runs like the helper without it, so its icc/iptables combination is dockerd's to judge.
    const off = (key: string) => c[key] === false || flags.some((f) => f.key === key && FALSE.test(f.value));
    const targetIptablesOff = off('iptables');
    const iptables = (opts.iptables ?? false) && !targetIptablesOff;
    delete c.iptables;
    dropFlags((f) => f.key !== 'iptables');
    if (!iptables && !targetIptablesOff && (off('icc') || off('userland-proxy'))) {
      for (const k of IPTABLES_KEYS) delete c[k];
      dropFlags((f) => !IPTABLES_KEYS.includes(f.key));
      notValidated.add("icc, userland-proxy and the other iptables settings (they need dockerd to manage this host's firewall; the icc/iptables combination was checked by dockward)");
    }
    // `--name=value`: one word each, so no value can be read as a flag of its own.
    for (const f of flags) args.push(`--${f.name}=${f.value}`);
    const cfgFile = join(work, 'daemon.json');
    await writeFile(cfgFile, formatDaemonJson(c), { mode: 0o600 });
    let daemon: PrivateDaemon;
    try {
      daemon = await startPrivateDaemon({ args: ['--config-file', cfgFile, ...args], iptables, baseDir: tmpdir(), dockerdPath: opts.dockerd?.path, binDirs: opts.binDirs });
    } catch (e) {
      await releaseMountsUnder(dataRoot);
      if (e instanceof DaemonStartError) throw new DaemonStartError(asTargetPaths(e.message, cfgFile, copies), e.daemonLog);
      throw e;
    }
    return {
      ...daemon,
      notValidated: [...notValidated],
      stop: async () => {
        await daemon.stop();
        await releaseMountsUnder(dataRoot);
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw e;
  }
}

/**
 * A loopback port free a moment ago, for the throw-away daemon's TLS listener: dockerd 28 refuses
 * port 0 ("invalid bind address (tcp://127.0.0.1:0): invalid port: 0"), which 20.10 took.
 */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

type DaemonFlagValue = { name: string; key: string; value: string };

/** Files the plan will write, as copies the candidate reads in place of the target's (which are still the old ones). */
function stagedFiles(work: string, opts: CandidateOptions) {
  const staged = new Map((opts.staged ?? []).map((f) => [f.path, f]));
  const copies = new Map<string, string>();
  let n = 0;
  const onTarget = async (p: string): Promise<string> => {
    const f = staged.get(p);
    if (!f) return atRoot(opts.root, p);
    const copy = join(work, `${n++}-${p.split('/').pop()}`);
    await writeFile(copy, f.after, { mode: 0o600 });
    copies.set(copy, p);
    return copy;
  };
  return { copies, onTarget };
}

async function targetPaths(c: DaemonConfig, flags: DaemonFlagValue[], onTarget: (p: string) => Promise<string>): Promise<void> {
  for (const key of PATH_KEYS) {
    const p = c[key];
    if (typeof p === 'string') c[key] = await onTarget(p);
  }
  for (const f of flags) if (PATH_KEYS.includes(f.key)) f.value = await onTarget(f.value);
}

/** dockerd names the throw-away copies; the user knows the files by their target paths. */
function asTargetPaths(message: string, cfgFile: string, copies: Map<string, string>): string {
  let msg = message.split(cfgFile).join('the candidate daemon.json');
  for (const [copy, target] of copies) msg = msg.split(copy).join(target);
  return msg;
}

export interface ValidateFlagResult {
  ok: boolean;
  /** dockerd's words when it refuses. */
  reason?: string;
  /** What was left out because it cannot be checked against this host. */
  without: string[];
}

/**
 * `dockerd --validate` (23.0+) reads the whole configuration as the daemon would, with the
 * unit's flags, and loads the TLS files, without starting anything: it also judges the keys the
 * throw-away daemon must leave out (data-root, storage driver, bridge, containerd, ...). Only
 * userns-remap stays out unless this host's users are the target's: dockerd looks the remap user
 * up in this host's passwd.
 */
export async function validateFlag(config: DaemonConfig, opts: CandidateOptions & { dockerd: Pick<Dockerd, 'path'> }): Promise<ValidateFlagResult> {
  const work = await mkdtemp(join(tmpdir(), 'dw-v-'));
  try {
    const c: DaemonConfig = structuredClone(config);
    const without: string[] = [];
    let flags = (opts.flags ?? []).map((f) => ({ name: f.name, key: configKeyOfFlag(f.name), value: f.value })).filter((f) => f.key !== 'config-file');
    if (!opts.keepUserns && ('userns-remap' in c || flags.some((f) => f.key === 'userns-remap'))) {
      delete c['userns-remap'];
      flags = flags.filter((f) => f.key !== 'userns-remap');
      without.push('userns-remap');
    }
    const { copies, onTarget } = stagedFiles(work, opts);
    await targetPaths(c, flags, onTarget);
    const cfgFile = join(work, 'daemon.json');
    await writeFile(cfgFile, formatDaemonJson(c), { mode: 0o600 });
    try {
      await execFileP(opts.dockerd.path, ['--validate', '--config-file', cfgFile, ...flags.map((f) => `--${f.name}=${f.value}`)], { timeout: 60_000 });
      return { ok: true, without };
    } catch (e) {
      const x = e as { stderr?: string; stdout?: string; message: string };
      const said = `${x.stderr ?? ''}${x.stdout ?? ''}`.trim() || x.message;
      return { ok: false, reason: asTargetPaths(said.split('\n').pop()!, cfgFile, copies), without };
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export type ValidationResult =
  | { ok: true; notValidated: string[]; validateFlag?: ValidateFlagResult }
  | { ok: false; reason: string; log: string };

/**
 * Proves the candidate: `dockerd --validate` first where the dockerd has it, then a throw-away
 * dockerd on private paths for what only a running daemon shows (a logging driver's options,
 * icc with iptables, a listener with TLS); a refusal carries dockerd's reason.
 */
export async function validateCandidate(config: DaemonConfig, opts: CandidateOptions): Promise<ValidationResult> {
  let checked: ValidateFlagResult | undefined;
  if (opts.dockerd?.canValidate) {
    checked = await validateFlag(config, { ...opts, dockerd: opts.dockerd });
    if (!checked.ok) return { ok: false, reason: `dockerd --validate refuses it: ${checked.reason!}`, log: checked.reason! };
  }
  const res = await startAndProbe(config, opts);
  return res.ok && checked ? { ...res, validateFlag: checked } : res;
}

async function startAndProbe(config: DaemonConfig, opts: CandidateOptions): Promise<ValidationResult> {
  let daemon: CandidateDaemon;
  try {
    daemon = await startCandidateDaemon(config, opts);
  } catch (e) {
    if (e instanceof DaemonStartError) return { ok: false, reason: e.message, log: e.daemonLog };
    throw e;
  }
  try {
    const flagDriver = opts.flags?.find((f) => f.name === 'log-driver')?.value;
    const driver = typeof config['log-driver'] === 'string' ? config['log-driver'] : flagDriver ?? 'json-file';
    if (!FILE_LOG_DRIVERS.has(driver)) {
      return { ok: true, notValidated: [...daemon.notValidated, `the options of log driver "${driver}" (it reaches its endpoint only when a container starts)`] };
    }
    const refused = await logDriverRefusal(daemon.socketPath);
    if (refused) return { ok: false, reason: `a container cannot start with it: ${refused}`, log: await daemon.log() };
    return { ok: true, notValidated: daemon.notValidated };
  } finally {
    await daemon.stop();
  }
}

/** Drivers that write on the host, so starting their logger tests the options and nothing else. */
const FILE_LOG_DRIVERS = new Set(['json-file', 'local']);
const PROBE_IMAGE = 'dockward-validate:empty';

/**
 * dockerd 20.10 starts whatever log-opts say and checks them only when a container starts
 * ("failed to initialize logging driver: invalid size: 'lots'"), after which no container
 * starts. So a container of an empty image is started: the logger is set up before the missing
 * command fails, and only a logging error is the configuration's fault.
 */
async function logDriverRefusal(socketPath: string): Promise<string | undefined> {
  await importEmptyImage(socketPath);
  const { Id } = await engineJson<{ Id: string }>({ socketPath }, 'POST', '/containers/create', { Image: PROBE_IMAGE, Cmd: ['/dockward-probe'], HostConfig: { NetworkMode: 'none' } });
  const res = await engineRequest({ socketPath }, 'POST', `/containers/${Id}/start`);
  const text = res.body.toString('utf8');
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    /* not JSON: keep the raw text */
  }
  return /failed to initialize logging driver/.test(message) ? message.trim() : undefined;
}

/** `docker import` of an archive with no entries (two zero blocks end a tar). */
function importEmptyImage(socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method: 'POST', path: `/images/create?fromSrc=-&repo=${encodeURIComponent(PROBE_IMAGE)}`, headers: { host: 'docker', 'content-type': 'application/x-tar' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`importing the probe image: HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(Buffer.alloc(1024));
  });
}
