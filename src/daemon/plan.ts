import { readFile, stat } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { UsageError, DockwardError } from '../util/errors.js';
import { pkiLayout, resolvePkiDir } from '../pki/index.js';
import { parseDaemonJson, renderDaemonJson, strictText, type DaemonConfig } from './daemon-json.js';
import { configKeyOfFlag, ignoredKeys, unknownKeys, dockerdKeys, DOCKERD_20_10, DOCKERD_28_5, type DockerdKeys } from './known-keys.js';
import type { Dockerd } from './dockerd.js';
import { profileSettings, TLS_WHY, USERNS_WHY, LOG_ROTATION, type ProfileName } from './profile.js';
import {
  readDockerUnit,
  dockerdFlags,
  execStartWithout,
  resolveExecStart,
  unitFilesWith,
  DOCKWARD_DROP_IN,
  type DaemonFlag,
  type DockerUnit,
} from './systemd-unit.js';
import { parseSubIds, rangesOf, freeRangeStart, appendRange, repeatedRanges, withoutLines, RANGE_SIZE, overlaps, type SubIdRange } from './subids.js';
import { loadServerTls } from './tls-material.js';
import { detectSwarmManager } from './swarm.js';
import { isTcpHost } from './hosts.js';
import { atRoot, resolveAtRoot, DAEMON_JSON, SUBUID, SUBGID, PASSWD, GROUP, PKI_INSTALL_DIR } from './paths.js';

export interface PlanOptions {
  root: string;
  profile: ProfileName;
  tls: boolean;
  listen: string[];
  usernsRemap?: string;
  /** daemon.json on the target (inside --root); by default the unit's --config-file, else /etc/docker/daemon.json. */
  configPath?: string;
  pki?: string;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  insecureTcp: boolean;
  /** The live daemon's socket, asked whether it is a swarm manager (only when the root is `/`). */
  socketPath?: string;
  /** The dockerd the configuration is checked against (its keys); none found: every known dockerd's. */
  dockerd?: Pick<Dockerd, 'major' | 'version' | 'path'>;
}

export type Severity = 'blocking' | 'fixed' | 'warning';

export interface Problem {
  severity: Severity;
  file?: string;
  line?: number;
  message: string;
  fix: string;
}

export interface Change {
  file: string;
  what: string;
  why: string;
}

export interface FileChange {
  /** Path on the target (without the --root prefix). */
  path: string;
  /** undefined: the file is new. */
  before?: Buffer;
  after: Buffer;
  mode: number;
  /** Shown instead of a diff: certificates say what they are, and a private key is never printed. */
  summary?: string;
}

export interface Plan {
  root: string;
  files: FileChange[];
  changes: Change[];
  problems: Problem[];
  /** The daemon.json that will be written, for validation. */
  config: DaemonConfig;
  /** systemd must re-read its units before the restart. */
  unitChanged: boolean;
  /** dockerd's command-line flags once the plan is written (the ExecStart that will win, `$VAR`s expanded), for validation. */
  flags: DaemonFlag[];
  /** What the keys were checked against: the dockerd found, or every dockerd dockward knows. */
  keysOf: string;
}

interface Listener {
  url: string;
  host: string;
  port: number;
}

export function parseListen(url: string): Listener {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--listen ${url} is not tcp://ADDR:PORT`, 'e.g. tcp://127.0.0.1:2376');
  }
  if (u.protocol !== 'tcp:' || !u.port || (u.pathname && u.pathname !== '/') || u.username) {
    throw new UsageError(`--listen ${url} is not tcp://ADDR:PORT`, 'e.g. tcp://127.0.0.1:2376');
  }
  return { url: `tcp://${u.host}`, host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
}

async function readMaybe(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DockwardError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** An existing file keeps its permissions, less write access for anyone but the owner: a private daemon.json stays private. */
async function modeFor(path: string, fallback: number): Promise<number> {
  try {
    return (await stat(path)).mode & 0o755;
  } catch {
    return fallback;
  }
}

const show = (v: unknown) => JSON.stringify(v);

/** What the stages of a plan share: the inputs as read, the configuration being built, and what they report. */
interface PlanContext {
  opts: PlanOptions;
  unit: DockerUnit;
  /** The daemon.json dockerd reads (on the target). */
  cfgPath: string;
  original: DaemonConfig;
  config: DaemonConfig;
  /** dockerd's command-line flags, as the unit gives them. */
  flags: DaemonFlag[];
  /** dockerd's flags for a daemon.json key. */
  flagFor: (key: string) => DaemonFlag[];
  problems: Problem[];
  changes: Change[];
  files: FileChange[];
}

function checkPlanOptions(opts: PlanOptions): void {
  if (opts.usernsRemap !== undefined && !/^(?:default|[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?|\d+(?::\d+)?)$/.test(opts.usernsRemap)) {
    throw new UsageError(`--userns-remap ${JSON.stringify(opts.usernsRemap)} is not a user`, "use 'default' (user dockremap), USER or USER:GROUP");
  }
}

/** dockerd reads the file its --config-file names; writing another one would change nothing. */
function configPathProblem(cfgPath: string, unitConfig: string | undefined): Problem | undefined {
  if (cfgPath === (unitConfig ?? DAEMON_JSON)) return undefined;
  return {
    severity: 'blocking',
    file: cfgPath,
    message: `dockerd reads ${unitConfig ?? DAEMON_JSON}${unitConfig ? ' (--config-file on its command line)' : ''}, not ${cfgPath}`,
    fix: unitConfig ? `leave out --config (dockward uses ${unitConfig})` : `leave out --config, or start dockerd with --config-file ${cfgPath}`,
  };
}

/** What dockward does about each JSON mistake it repairs. */
const SYNTAX_FIX: ReadonlyMap<string, string> = new Map([
  ['duplicate-key', 'dockward writes each key once, with the value dockerd uses (the last): check that it is the one you meant'],
  ['comment', 'dockward removes them (JSON has no comments: keep notes elsewhere)'],
  ['bom', 'dockward removes it (save the file as UTF-8 without BOM when editing it)'],
  ['trailing-comma', 'dockward removes them'],
]);

/** What is wrong with daemon.json as JSON: one problem per kind, with every line it occurs on (six comments are one thing to fix). */
function syntaxProblems(text: string | undefined, issues: ReturnType<typeof parseDaemonJson>['issues'], cfgPath: string): Problem[] {
  const problems: Problem[] = [];
  // An empty file is no configuration to dockward but a decoding error to dockerd, which reads it as JSON.
  if (text !== undefined && text.replace(/^\ufeff/, '').trim() === '') {
    problems.push({
      severity: 'fixed',
      file: cfgPath,
      message: 'the file is empty: dockerd 20.10 refuses to start ("unable to configure the Docker daemon with file ...: EOF"); dockerd 28.5 reads it as no settings',
      fix: 'dockward writes a complete daemon.json in its place (at least {})',
    });
  }
  for (const kind of new Set(issues.map((i) => i.kind))) {
    const all = issues.filter((i) => i.kind === kind);
    const lines = all.map((i) => i.line);
    const on = `on line${lines.length > 1 ? 's' : ''} ${lines.join(', ')}`;
    const plural = lines.length > 1 ? 's' : '';
    const what =
      kind === 'bom'
        ? `byte order mark ${on}`
        : kind === 'comment'
          ? `comment${plural} ${on} (JSON has none)`
          : kind === 'trailing-comma'
            ? `trailing comma${plural} ${on}`
            : kind === 'duplicate-key'
              ? `${all.map((i) => `${i.message} on line ${i.line}`).join(', ')}`
              : `${all[0]!.message} on line ${lines[0]}`;
    problems.push({
      severity: SYNTAX_FIX.has(kind) ? 'fixed' : 'blocking',
      file: cfgPath,
      // Go's decoder takes a repeated key without complaint (checked with dockerd 20.10 and 28.5):
      // the file starts, but says two things and only its last value counts.
      message:
        kind === 'duplicate-key'
          ? `${what}: ambiguous; dockerd starts with it, uses the last value and ignores the earlier one${plural} without a word`
          : `${what}: dockerd reads strict JSON and refuses to start`,
      fix: SYNTAX_FIX.get(kind) ?? `correct the JSON in ${cfgPath} by hand, then plan again`,
    });
  }
  return problems;
}

/**
 * Sets a daemon.json key the profile wants: left to a flag that already sets it (a key in both
 * makes dockerd refuse to start), replaced only where the profile enforces it, else the user's kept.
 */
function setKey(ctx: PlanContext, key: string, value: unknown, why: string, enforce: boolean): void {
  const { config, original, cfgPath, changes } = ctx;
  const flagged = ctx.flagFor(key);
  if (flagged.length && !(key in original)) {
    const same = flagged.every((f) => f.value === String(value));
    if (enforce && !same && typeof value !== 'object') {
      ctx.problems.push({
        severity: 'blocking',
        file: flagged[0]!.source,
        message: `--${flagged[0]!.name}=${flagged[0]!.value} on dockerd's command line contradicts ${key}: ${show(value)} (${why})`,
        fix: `remove --${flagged[0]!.name} from ${flagged[0]!.source}, then plan again`,
      });
    } else {
      changes.push({ file: cfgPath, what: `${key}: left to --${flagged[0]!.name} on the command line`, why: 'a key given both as a flag and in daemon.json makes dockerd refuse to start' });
    }
    return;
  }
  if (!(key in config)) {
    config[key] = value;
    changes.push({ file: cfgPath, what: `add "${key}": ${show(value)}`, why });
  } else if (!isDeepStrictEqual(config[key], value)) {
    if (enforce) {
      changes.push({ file: cfgPath, what: `change "${key}" from ${show(config[key])} to ${show(value)} (your value is replaced: the profile requires it)`, why });
      config[key] = value;
    } else {
      changes.push({ file: cfgPath, what: `keep your "${key}": ${show(config[key])}`, why: `the profile would set ${show(value)}: ${why}` });
    }
  }
}

/** The profile's settings; live-restore is left out on a swarm manager, which dockerd refuses with it. */
async function planProfile(ctx: PlanContext): Promise<void> {
  const { opts, config, original, cfgPath, changes } = ctx;
  const dataRoot = typeof original['data-root'] === 'string' ? (original['data-root'] as string) : ctx.flagFor('data-root')[0]?.value ?? '/var/lib/docker';
  const swarm = await detectSwarmManager(opts.root, dataRoot, opts.root === '/' ? opts.socketPath : undefined);
  for (const s of profileSettings(opts.profile)) {
    if (s.key === 'live-restore' && swarm.manager) {
      changes.push({ file: cfgPath, what: 'live-restore left out', why: `this node is a swarm manager (${swarm.evidence}) and dockerd refuses live-restore in swarm mode` });
      continue;
    }
    if (s.key === 'userns-remap') continue;
    if (s.key === 'log-opts') {
      if (ctx.flagFor('log-opts').length) changes.push({ file: cfgPath, what: 'log-opts: left to --log-opt on the command line', why: 'a key given both as a flag and in daemon.json makes dockerd refuse to start' });
      else planLogRotation(config, original, cfgPath, changes, ctx.flagFor('log-driver')[0]?.value);
      continue;
    }
    if (s.key === 'log-driver' && typeof config['log-driver'] === 'string' && config['log-driver'] !== s.value) {
      changes.push({ file: cfgPath, what: `keep your "log-driver": ${show(config['log-driver'])}`, why: 'your driver is kept; rotation options are added only for the file-based drivers (json-file, local)' });
      continue;
    }
    setKey(ctx, s.key, s.value, s.why, s.enforce);
  }
  if (swarm.manager && original['live-restore'] === true) {
    ctx.problems.push({
      severity: 'blocking',
      file: cfgPath,
      message: `"live-restore": true on a swarm manager (${swarm.evidence}): dockerd refuses to start ("live-restore daemon configuration is incompatible with swarm mode")`,
      fix: `remove "live-restore" from ${cfgPath}`,
    });
  }
}

/** userns-remap (the option's, the user's, or the profile's) and its subordinate id ranges. */
async function planUserns(ctx: PlanContext): Promise<void> {
  const { opts, config } = ctx;
  const profileRemap = profileSettings(opts.profile).find((s) => s.key === 'userns-remap')?.value as string | undefined;
  const userRemap = typeof config['userns-remap'] === 'string' && config['userns-remap'] ? (config['userns-remap'] as string) : undefined;
  const remap = opts.usernsRemap ?? userRemap ?? profileRemap;
  if (!remap) return;
  if (config['userns-remap'] !== remap) {
    const had = config['userns-remap'];
    config['userns-remap'] = remap;
    ctx.changes.push({ file: ctx.cfgPath, what: had === undefined ? `add "userns-remap": ${show(remap)}` : `change "userns-remap" from ${show(had)} to ${show(remap)}`, why: USERNS_WHY });
  }
  await planSubIds(opts.root, remap, ctx.files, ctx.changes, ctx.problems);
}

/** "hosts": the new listeners beside what the unit's -H gave, and what dockerd would refuse or expose. */
function planHosts(ctx: PlanContext, listeners: Listener[]): void {
  const { config, cfgPath, unit, problems } = ctx;
  const hostFlags = ctx.flags.filter((f) => f.name === 'host');
  const hostsBefore = Array.isArray(config.hosts) ? (config.hosts as unknown[]) : undefined;
  if (listeners.length || (hostsBefore && hostFlags.length)) {
    const hosts: unknown[] = [...(hostsBefore ?? [])];
    const from = !hostsBefore && hostFlags.length ? ' (with the addresses the unit passed with -H)' : '';
    // The local socket the unit gave with -H keeps working: `fd://` stays socket activation through docker.socket.
    for (const f of hostFlags) if (!hosts.includes(f.value)) hosts.push(f.value);
    if (!hosts.length) hosts.push('unix:///var/run/docker.sock');
    for (const l of listeners) if (!hosts.includes(l.url)) hosts.push(l.url);
    if (!isDeepStrictEqual(hosts, hostsBefore)) {
      config.hosts = hosts;
      ctx.changes.push({
        file: cfgPath,
        what: `${hostsBefore ? 'change' : 'add'} "hosts": ${show(hosts)}${from}`,
        why: `dockerd listens on these addresses${hosts.includes('fd://') ? '; fd:// keeps the local socket from docker.socket (socket activation)' : ''}`,
      });
    }
  }
  if (Array.isArray(config.hosts) && config.hosts.includes('fd://') && !unit.socketUnit) {
    problems.push({
      severity: 'blocking',
      file: cfgPath,
      message: '"hosts" has fd:// but there is no docker.socket unit to hand dockerd that socket: dockerd refuses to start ("no sockets found via socket activation")',
      fix: 'replace fd:// with unix:///var/run/docker.sock in "hosts" (or -H), or install docker.socket',
    });
  }
  if (Array.isArray(config.hosts) && hostFlags.length) planHostsDropIn(unit, hostFlags, cfgPath, ctx.files, ctx.changes, problems);
  const tlsOn = config.tlsverify === true || ctx.flagFor('tlsverify').some((f) => f.value === 'true');
  const plainTcp = [...(Array.isArray(config.hosts) ? config.hosts : []), ...hostFlags.map((f) => f.value)].filter(isTcpHost).filter(() => !tlsOn);
  if (plainTcp.length && !ctx.opts.insecureTcp) {
    problems.push({
      severity: 'blocking',
      file: cfgPath,
      message: `${[...new Set(plainTcp)].join(', ')} is a TCP listener without tlsverify: anyone who reaches it is root on this host`,
      fix: 'add --tls, or spell out --insecure-tcp if the port is protected otherwise',
    });
  }
}

/** Combinations of settings dockerd refuses to start with. */
function refusedCombinations(ctx: PlanContext): Problem[] {
  const { config, cfgPath } = ctx;
  const problems: Problem[] = [];
  const iptablesOff = config.iptables === false || ctx.flagFor('iptables').some((f) => f.value === 'false');
  if (config.icc === false && iptablesOff) {
    problems.push({
      severity: 'blocking',
      file: config.iptables === false ? cfgPath : ctx.flagFor('iptables')[0]?.source,
      message: 'icc: false with iptables disabled: dockerd refuses to start ("ICC=false uses iptables to function")',
      fix: 'remove "iptables": false (or --iptables=false), or keep icc enabled',
    });
  }
  for (const key of Object.keys(config)) {
    const flagged = ctx.flagFor(key);
    if (!flagged.length || key === 'hosts') continue;
    problems.push({
      severity: 'blocking',
      file: flagged[0]!.source,
      message: `"${key}" is set both in ${cfgPath} and as --${flagged[0]!.name} on dockerd's command line: dockerd refuses to start ("the following directives are specified both as a flag and in the configuration file")`,
      fix: `remove --${flagged[0]!.name} from ${flagged[0]!.source === '$DOCKER_OPTS' ? 'DOCKER_OPTS in /etc/default/docker' : flagged[0]!.source}, or "${key}" from ${cfgPath}`,
    });
  }
  return problems;
}

export async function computePlan(opts: PlanOptions): Promise<Plan> {
  // A mistyped --root would otherwise get a fresh /etc and /var created under it.
  if (!(await stat(opts.root).catch(() => undefined))?.isDirectory()) {
    throw new UsageError(`--root ${opts.root} is not a directory`, 'give the directory the target system is mounted or unpacked at');
  }
  const listeners = opts.listen.map(parseListen);
  checkPlanOptions(opts);
  const problems: Problem[] = [];
  const changes: Change[] = [];
  const files: FileChange[] = [];
  const unit = await readDockerUnit(opts.root);
  const flags = unit.execStart ? dockerdFlags(unit.execStart, unit.env) : [];
  const flagFor = (key: string) => flags.filter((f) => configKeyOfFlag(f.name) === key);
  const unitConfig = flagFor('config-file')[0]?.value;
  const cfgPath = opts.configPath ?? unitConfig ?? DAEMON_JSON;
  const pathProblem = configPathProblem(cfgPath, unitConfig);
  if (pathProblem) problems.push(pathProblem);

  // daemon.json as it is; a symlinked one (kept in a config repository, say) is edited where it points, so the link stays
  const cfgFile = await resolveAtRoot(opts.root, cfgPath);
  const beforeBytes = await readMaybe(atRoot(opts.root, cfgFile));
  const beforeText = beforeBytes?.toString('utf8');
  const parsed = parseDaemonJson(beforeText ?? '');
  // A new listener is TLS-protected by --tls, or by the tlsverify already in effect with the user's own certificates.
  const tlsInEffect = parsed.config?.tlsverify === true || flagFor('tlsverify').some((f) => f.value === 'true');
  if (listeners.length && !opts.tls && !opts.insecureTcp && !tlsInEffect) {
    throw new UsageError(
      `refusing to listen on ${listeners.map((l) => l.url).join(', ')} without TLS: anyone who reaches a plain TCP Docker port is root on this host`,
      'add --tls (mutual TLS with the dockward PKI), or spell out --insecure-tcp if the port is protected otherwise',
    );
  }
  problems.push(...syntaxProblems(beforeText, parsed.issues, cfgPath));
  const keysOf = opts.dockerd ? `dockerd ${opts.dockerd.version} (${opts.dockerd.path})` : `dockerd ${DOCKERD_20_10.version} and ${DOCKERD_28_5.version} (no dockerd on PATH)`;
  if (!parsed.config) return { root: opts.root, files, changes, problems, config: {}, unitChanged: false, flags, keysOf };
  const original = parsed.config;
  const ctx: PlanContext = { opts, unit, cfgPath, original, config: structuredClone(original), flags, flagFor, problems, changes, files };
  problems.push(...keyProblems(original, cfgPath, opts.dockerd));
  if (!unit.fragment) {
    problems.push({
      severity: 'warning',
      message: 'no docker.service unit found: flags dockerd is started with could not be checked',
      fix: 'make sure whatever starts dockerd passes no flag that daemon.json also sets (-H above all)',
    });
  }

  await planProfile(ctx);
  await planUserns(ctx);
  if (opts.tls) await planTls(opts, cfgPath, listeners, ctx.config, files, changes, problems);
  planHosts(ctx, listeners);
  problems.push(...refusedCombinations(ctx));

  const config = ctx.config;
  const strict = strictText(beforeText ?? '', parsed.issues);
  const after = Buffer.from(renderDaemonJson(strict, strict !== undefined, original, config));
  if (!beforeBytes || !after.equals(beforeBytes)) {
    files.unshift({ path: cfgFile, before: beforeBytes, after, mode: await modeFor(atRoot(opts.root, cfgFile), 0o644) });
    if (cfgFile !== cfgPath) changes.push({ file: cfgPath, what: `written through its symlink to ${cfgFile}`, why: 'dockerd follows the link; replacing the link with a file would leave your copy unused' });
  }
  const dropIn = files.find((f) => f.path === DOCKWARD_DROP_IN);
  const execAfter = dropIn ? resolveExecStart(unitFilesWith(unit, { path: DOCKWARD_DROP_IN, text: dropIn.after.toString('utf8') })) : unit.execStart;
  const flagsAfter = execAfter ? dockerdFlags(execAfter, unit.env) : [];
  return { root: opts.root, files, changes, problems, config, unitChanged: files.some((f) => f.path.includes('/systemd/')), flags: flagsAfter, keysOf };
}

const UNKNOWN = `dockerd refuses to start ("the following directives don't match any configuration option")`;

/**
 * Keys the dockerd will refuse, and keys it reads under another name. Without a dockerd to ask
 * (an image built on a machine without one), a key only some known dockerd refuses is a warning.
 */
function keyProblems(config: DaemonConfig, cfgPath: string, dockerd: PlanOptions['dockerd']): Problem[] {
  const inside = (parent?: string) => (parent ? ` (inside "${parent}", which dockerd flattens)` : '');
  const tables: DockerdKeys[] = dockerd ? [dockerdKeys(dockerd.major)] : [DOCKERD_20_10, DOCKERD_28_5];
  const unknown = tables.map((t) => unknownKeys(config, t));
  const problems: Problem[] = [];
  for (const u of unknown[0]!) {
    const elsewhere = tables.slice(1).map((t, i) => (unknown[i + 1]!.some((x) => x.key === u.key) ? undefined : t.version)).filter(Boolean);
    problems.push(
      elsewhere.length
        ? { severity: 'warning', file: cfgPath, message: `"${u.key}"${inside(u.parent)} is a key of dockerd ${elsewhere.join(', ')}, but dockerd ${tables[0]!.version} refuses it, and there is no dockerd here to tell which one the target runs`, fix: u.hint }
        : { severity: 'blocking', file: cfgPath, message: `unknown key "${u.key}"${inside(u.parent)}: ${UNKNOWN}`, fix: u.hint },
    );
  }
  for (const [i, list] of unknown.entries()) {
    if (i === 0) continue;
    for (const u of list.filter((x) => !unknown[0]!.some((y) => y.key === x.key))) {
      problems.push({ severity: 'warning', file: cfgPath, message: `"${u.key}"${inside(u.parent)} is a key of dockerd ${tables[0]!.version}, but dockerd ${tables[i]!.version} refuses it, and there is no dockerd here to tell which one the target runs`, fix: u.hint });
    }
  }
  for (const k of ignoredKeys(config, tables[tables.length - 1]!)) {
    problems.push({
      severity: 'warning',
      file: cfgPath,
      message: `"${k.key}" is the command-line flag's name: in daemon.json dockerd reads "${k.name}" and ignores "${k.key}" without a word, so this setting is not in effect`,
      fix: `rename it to "${k.name}" (merged with any "${k.name}" already there), or remove it`,
    });
  }
  return problems;
}

/** `flagDriver`: --log-driver on the command line, which daemon.json then must not set. */
function planLogRotation(config: DaemonConfig, original: DaemonConfig, cfgPath: string, changes: Change[], flagDriver?: string): void {
  const driver = config['log-driver'] ?? flagDriver;
  if (driver !== undefined && driver !== 'json-file' && driver !== 'local') {
    changes.push({
      file: cfgPath,
      what: 'log rotation left to your log driver',
      why: `"${String(driver)}" keeps or ships logs by its own rules; max-size/max-file only apply to json-file and local, and dockerd refuses to start with options its driver does not know`,
    });
    return;
  }
  const existing = original['log-opts'] && typeof original['log-opts'] === 'object' ? (original['log-opts'] as Record<string, unknown>) : {};
  const opts: Record<string, unknown> = { ...existing };
  const added: string[] = [];
  for (const [k, v] of Object.entries(LOG_ROTATION)) {
    if (!(k in opts)) {
      opts[k] = v;
      added.push(`${k}=${v}`);
    }
  }
  if (!added.length) return;
  config['log-opts'] = opts;
  // The profile's why names its own sizes; where the user's are kept, it says what will happen instead.
  const why = Object.keys(LOG_ROTATION).some((k) => k in existing)
    ? `each container log is rotated at ${String(opts['max-size'])} and ${String(opts['max-file'])} files are kept (your values where you set them), so a chatty container cannot fill the disk (applies to containers created after the restart)`
    : profileSettings('baseline').find((s) => s.key === 'log-opts')!.why;
  changes.push({ file: cfgPath, what: `log-opts: add ${added.join(', ')}${Object.keys(existing).length ? ' (your other log options are kept)' : ''}`, why });
}

async function planSubIds(root: string, remap: string, files: FileChange[], changes: Change[], problems: Problem[]): Promise<void> {
  const [userPart, groupPart] = remap === 'default' ? ['dockremap', 'dockremap'] : remap.split(':');
  const user = userPart!;
  const passwd = (await readMaybe(atRoot(root, PASSWD)))?.toString('utf8') ?? '';
  const entry = passwd.split('\n').map((l) => l.split(':')).find((f) => f[0] === user || (/^\d+$/.test(user) && f[2] === user));
  if (!entry && remap !== 'default') {
    problems.push({
      severity: 'blocking',
      file: PASSWD,
      message: `userns-remap user "${user}" does not exist in ${PASSWD}: dockerd refuses to start`,
      fix: `create it (useradd --system --shell /usr/sbin/nologin ${user}) or use --userns-remap default`,
    });
  } else if (!entry) {
    changes.push({ file: PASSWD, what: 'user dockremap: created by dockerd on its first start with userns-remap "default" (useradd --system)', why: 'the remap user owns no files and cannot log in' });
  }
  const uid = entry?.[2] !== undefined ? Number(entry[2]) : undefined;
  const name = entry?.[0] ?? user;
  if (entry) {
    // dockerd looks up GROUP, else a group named like the user (for a numeric uid, the gid of that number).
    const group = groupPart ?? (/^\d+$/.test(user) ? user : name);
    const groups = ((await readMaybe(atRoot(root, GROUP)))?.toString('utf8') ?? '').split('\n').map((l) => l.split(':'));
    if (!groups.some((f) => (/^\d+$/.test(group) ? f[2] === group : f[0] === group))) {
      problems.push({
        severity: 'blocking',
        file: GROUP,
        message: `userns-remap group "${group}" does not exist in ${GROUP}: dockerd refuses to start ("Error during groupname lookup")`,
        fix: groupPart ? `create it (groupadd --system ${group}) or name an existing group` : `create it (groupadd --system ${group}) or give the group as --userns-remap ${user}:GROUP`,
      });
    }
  }
  const bytes: Record<string, Buffer | undefined> = {};
  const texts: Record<string, string> = {};
  const parsed: Record<string, SubIdRange[]> = {};
  for (const f of [SUBUID, SUBGID]) {
    bytes[f] = await readMaybe(atRoot(root, f));
    texts[f] = bytes[f]?.toString('utf8') ?? '';
    const p = parseSubIds(texts[f]!);
    parsed[f] = p.ranges;
    for (const line of p.bad) problems.push({ severity: 'warning', file: f, line, message: 'line is not NAME:START:COUNT', fix: `correct or remove line ${line}` });
  }
  // One start free in both files, so container uid N and gid N map to the same host id.
  const start = freeRangeStart([...parsed[SUBUID]!, ...parsed[SUBGID]!]);
  // dockerd 20.10 looks both files up by the user (name or uid), never by the group:
  // 'Can't create ID mappings: no subgid ranges found for user "NAME"'.
  for (const f of [SUBUID, SUBGID]) {
    const all = rangesOf(parsed[f]!, name, uid);
    if (all.length) {
      // An existing range is reused, whoever wrote it (an admin, or dockerd itself on its first
      // start with "default"); one listed twice is cut back to one.
      const repeats = repeatedRanges(all);
      const own = all.filter((r) => !repeats.includes(r));
      if (repeats.length) {
        const lines = repeats.map((r) => r.line!);
        files.push({ path: f, before: bytes[f], after: Buffer.from(withoutLines(texts[f]!, lines)), mode: await modeFor(atRoot(root, f), 0o644) });
        problems.push({
          severity: 'fixed',
          file: f,
          line: lines[0],
          message: `${repeats.map((r) => `${r.name}:${r.start}:${r.count}`).join(', ')} is listed more than once (line${lines.length > 1 ? 's' : ''} ${lines.join(', ')}): every container fails to start with userns-remap ("can't get final child's PID from pipe")`,
          fix: `dockward removes the repeated line${lines.length > 1 ? 's' : ''}, keeping the first`,
        });
      }
      const total = own.reduce((n, r) => n + r.count, 0);
      if (total < RANGE_SIZE) {
        problems.push({ severity: 'warning', file: f, message: `${name} has only ${total} subordinate ids; containers using ids above ${total - 1} fail`, fix: `give ${name} a range of ${RANGE_SIZE}` });
      }
      for (const r of own) {
        const clash = parsed[f]!.find((o) => o !== r && o.name !== name && overlaps(o, r));
        if (clash) problems.push({ severity: 'blocking', file: f, message: `${name}'s range ${r.start}:${r.count} overlaps ${clash.name}'s ${clash.start}:${clash.count}: container ids would be host ids of ${clash.name}`, fix: `move one of the ranges in ${f}` });
      }
      continue;
    }
    const range = { name, start, count: RANGE_SIZE };
    files.push({ path: f, before: bytes[f], after: Buffer.from(appendRange(texts[f]!, range)), mode: await modeFor(atRoot(root, f), 0o644) });
    changes.push({
      file: f,
      what: `add ${name}:${start}:${RANGE_SIZE}`,
      why: `container ids 0..65535 become host ids ${start}..${start + RANGE_SIZE - 1}, a range no other entry uses`,
    });
  }
}

async function planTls(opts: PlanOptions, cfgPath: string, listeners: Listener[], config: DaemonConfig, files: FileChange[], changes: Change[], problems: Problem[]): Promise<void> {
  const given = [opts.tlscacert, opts.tlscert, opts.tlskey].filter(Boolean).length;
  if (given && given < 3) throw new UsageError('--tlscacert, --tlscert and --tlskey go together', 'pass all three, or none to use the dockward PKI');
  const server = pkiLayout(resolvePkiDir(opts.pki)).serverDir;
  const src = given
    ? { ca: opts.tlscacert!, cert: opts.tlscert!, key: opts.tlskey! }
    : { ca: `${server}/ca.pem`, cert: `${server}/server-cert.pem`, key: `${server}/server-key.pem` };
  const material = await loadServerTls(src, listeners.map((l) => l.host));
  // Copies under /etc/docker/pki: daemon.json then names fixed root-owned paths on the target,
  // independent of where the PKI lives (an operator's config dir, another machine when building
  // an image with --root); the host gets its own key and the CA certificate, never the CA key;
  // and the copies are backed up and rolled back with the rest.
  const installed = [
    { key: 'tlscacert', from: src.ca, path: `${PKI_INSTALL_DIR}/ca.pem`, data: material.ca, mode: 0o444, summary: 'CA certificate (clients must be signed by it)' },
    { key: 'tlscert', from: src.cert, path: `${PKI_INSTALL_DIR}/server-cert.pem`, data: material.cert, mode: 0o444, summary: `server certificate ${material.subject}, valid until ${material.notAfter}` },
    { key: 'tlskey', from: src.key, path: `${PKI_INSTALL_DIR}/server-key.pem`, data: material.key, mode: 0o400, summary: 'server private key (content not shown)' },
  ];
  const copyWhy = 'a root-owned copy on the target, so daemon.json does not depend on where the PKI lives, and the host holds its own key and the CA certificate but never the CA key';
  for (const i of installed) {
    const before = await readMaybe(atRoot(opts.root, i.path));
    if (!before || !before.equals(i.data)) {
      files.push({ path: i.path, before, after: i.data, mode: i.mode, summary: `${before ? 'replace' : 'install'} ${i.summary}` });
    }
    if (config[i.key] !== i.path) {
      const had = config[i.key];
      config[i.key] = i.path;
      changes.push({ file: cfgPath, what: had === undefined ? `add "${i.key}": "${i.path}"` : `change "${i.key}" from ${show(had)} to "${i.path}"`, why: `copied from ${i.from}: ${copyWhy}` });
    }
  }
  if (config.tlsverify !== true) {
    const had = config.tlsverify;
    config.tlsverify = true;
    changes.push({ file: cfgPath, what: had === undefined ? 'add "tlsverify": true' : `change "tlsverify" from ${show(had)} to true`, why: TLS_WHY });
  }
  if ('tls' in config) {
    changes.push({ file: cfgPath, what: 'remove "tls"', why: 'tlsverify implies TLS; "tls" alone would accept any client' });
    delete config.tls;
  }
  const tcp = listeners.length || (Array.isArray(config.hosts) && config.hosts.some(isTcpHost));
  if (!tcp) problems.push({ severity: 'warning', message: 'TLS is configured but dockerd has no TCP listener', fix: 'add --listen tcp://ADDR:2376' });
}

function planHostsDropIn(unit: DockerUnit, hostFlags: DaemonFlag[], cfgPath: string, files: FileChange[], changes: Change[], problems: Problem[]): void {
  const fromEnv = hostFlags.filter((f) => f.source.startsWith('$'));
  if (fromEnv.length || !unit.execStart) {
    problems.push({
      severity: 'blocking',
      file: '/etc/default/docker',
      message: `-H ${fromEnv.map((f) => f.value).join(' ')} comes from ${fromEnv[0]?.source ?? 'the environment'} while daemon.json has "hosts": dockerd refuses to start`,
      fix: 'remove -H from DOCKER_OPTS in /etc/default/docker (the addresses are in daemon.json "hosts")',
    });
    return;
  }
  const exec = unit.execStart;
  const drop = new Set(hostFlags.flatMap((f) => f.words));
  const line = execStartWithout(exec, drop);
  const text = [
    '# Written by dockward. dockerd refuses to start when daemon.json has "hosts" and its command',
    `# line has -H ("specified both as a flag and in the configuration file"). The listeners are in`,
    `# ${cfgPath}; this resets ExecStart to ${exec.source}'s command without -H.`,
    `# It is a copy: a package update that changes ExecStart in ${exec.source} is masked while`,
    `# this file exists. Undo: \`dockward daemon rollback\`, or delete this file and run \`systemctl daemon-reload\`.`,
    '[Service]',
    'ExecStart=',
    `ExecStart=${line}`,
    '',
  ].join('\n');
  // The drop-in must be the one that wins: a later drop-in with its own ExecStart would undo it.
  const winner = resolveExecStart(unitFilesWith(unit, { path: DOCKWARD_DROP_IN, text }));
  if (winner?.source !== DOCKWARD_DROP_IN) {
    problems.push({ severity: 'blocking', file: winner?.source, message: `${winner?.source} sets ExecStart after dockward's drop-in would`, fix: `remove -H from ExecStart in ${winner?.source} by hand` });
    return;
  }
  const existing = unit.dropIns.find((d) => d.path === DOCKWARD_DROP_IN);
  if (existing?.text === text) return;
  files.push({ path: DOCKWARD_DROP_IN, before: existing ? Buffer.from(existing.text) : undefined, after: Buffer.from(text), mode: 0o644 });
  problems.push({
    severity: 'fixed',
    file: exec.source,
    message: `ExecStart passes ${hostFlags.map((f) => `-H ${f.value}`).join(' ')} while daemon.json has "hosts": dockerd refuses to start ("the following directives are specified both as a flag and in the configuration file: hosts")`,
    fix: `dockward writes ${DOCKWARD_DROP_IN}, which starts dockerd without -H; the addresses move to "hosts"`,
  });
  changes.push({
    file: DOCKWARD_DROP_IN,
    what: `ExecStart=${line}`,
    why:
      'the listeners live in daemon.json "hosts" only, so dockerd starts (run `systemctl daemon-reload` before the restart). ' +
      `This is a copy of the command line: while the drop-in exists, a package update that changes ExecStart in ${exec.source} has no effect. ` +
      `To go back to the packaged command line, run \`dockward daemon rollback\`, or delete ${DOCKWARD_DROP_IN} and run \`systemctl daemon-reload\``,
  });
}
