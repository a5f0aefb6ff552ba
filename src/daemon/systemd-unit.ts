import { readFile, readdir } from 'node:fs/promises';
import { basename } from 'node:path';
import { atRoot } from './paths.js';
import { BOOLEAN_FLAGS, longFlagName } from './known-keys.js';

/**
 * How systemd will start dockerd: the docker.service fragment, its drop-ins in systemd's
 * order, and the one ExecStart that wins. systemd's unit syntax is small and has no
 * well-kept JavaScript parser with its semantics (repeated keys, `ExecStart=` resetting the
 * list, drop-in masking), so the few rules dockward relies on are written here.
 */
export const UNIT_DIRS = ['/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'];
export const DROP_IN_DIR = '/etc/systemd/system/docker.service.d';
/** Named to sort after the usual `override.conf`, so its ExecStart is the one that wins. */
export const DOCKWARD_DROP_IN = `${DROP_IN_DIR}/zz-dockward.conf`;

export interface UnitFile {
  /** Path on the target system (without the --root prefix). */
  path: string;
  text: string;
}

export interface Word {
  /** As written in the unit, quotes included, so a rewritten line keeps the user's spelling. */
  raw: string;
  value: string;
}

export interface ExecStart {
  /** The unit file whose assignment wins. */
  source: string;
  line: string;
  words: Word[];
}

export interface DockerUnit {
  fragment?: UnitFile;
  dropIns: UnitFile[];
  execStart?: ExecStart;
  /** Environment= and EnvironmentFile= values, for `$DOCKER_OPTS` in ExecStart. */
  env: Record<string, string>;
  /** docker.socket exists: `-H fd://` (socket activation) works. */
  socketUnit: boolean;
}

export interface DaemonFlag {
  /** Long name without dashes (`host` for `-H`). */
  name: string;
  value: string;
  /** Indexes into ExecStart's words that spell this flag (one or two). */
  words: number[];
  /** Where it came from: the unit file, or `$VAR` from an environment file. */
  source: string;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}

export async function readDockerUnit(root: string): Promise<DockerUnit> {
  let fragment: UnitFile | undefined;
  for (const dir of UNIT_DIRS) {
    const text = await readText(atRoot(root, `${dir}/docker.service`));
    if (text !== undefined) {
      fragment = { path: `${dir}/docker.service`, text };
      break;
    }
  }
  // A drop-in name in a directory earlier in UNIT_DIRS masks the same name further down.
  const byName = new Map<string, UnitFile>();
  for (const dir of UNIT_DIRS) {
    const dDir = `${dir}/docker.service.d`;
    let names: string[];
    try {
      names = await readdir(atRoot(root, dDir));
    } catch {
      continue;
    }
    for (const n of names.filter((x) => x.endsWith('.conf'))) {
      if (byName.has(n)) continue;
      const text = await readText(atRoot(root, `${dDir}/${n}`));
      if (text !== undefined) byName.set(n, { path: `${dDir}/${n}`, text });
    }
  }
  const dropIns = [...byName.values()].sort((a, b) => basename(a.path).localeCompare(basename(b.path)));
  let socketUnit = false;
  for (const dir of UNIT_DIRS) if ((await readText(atRoot(root, `${dir}/docker.socket`))) !== undefined) socketUnit = true;
  const files = fragment ? [fragment, ...dropIns] : dropIns;
  const env = await unitEnvironment(root, files);
  return { fragment, dropIns, execStart: resolveExecStart(files), env, socketUnit };
}

/**
 * The unit's files in the order systemd applies them (the fragment, then the drop-ins by file
 * name), with `dropIn` in place of any file of the same path: the unit as it will be once
 * that drop-in is written.
 */
export function unitFilesWith(unit: DockerUnit, dropIn?: UnitFile): UnitFile[] {
  const dropIns = unit.dropIns.filter((d) => d.path !== dropIn?.path);
  if (dropIn) dropIns.push(dropIn);
  dropIns.sort((a, b) => basename(a.path).localeCompare(basename(b.path)));
  return unit.fragment ? [unit.fragment, ...dropIns] : dropIns;
}

/** The [Service] assignments of one unit file, in order, with continuation lines joined. */
export function serviceAssignments(text: string): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  let section = '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      section = line;
      continue;
    }
    const eq = line.indexOf('=');
    if (section !== '[Service]' || eq < 0) continue;
    out.push({ key: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim() });
  }
  return out;
}

/** ExecStart after every file is applied: an empty `ExecStart=` clears what came before. */
export function resolveExecStart(files: UnitFile[]): ExecStart | undefined {
  let current: ExecStart | undefined;
  for (const f of files) {
    for (const a of serviceAssignments(f.text)) {
      if (a.key !== 'ExecStart') continue;
      current = a.value === '' ? undefined : { source: f.path, line: a.value, words: splitWords(a.value.replace(/^[-@+!:]+/, '')) };
    }
  }
  return current;
}

/** systemd's word splitting: whitespace separates, single and double quotes group, backslash escapes. */
export function splitWords(line: string): Word[] {
  const words: Word[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length) break;
    const start = i;
    let value = '';
    let quote: string | undefined;
    while (i < line.length && (quote || !/\s/.test(line[i]!))) {
      const c = line[i]!;
      if (c === '\\' && i + 1 < line.length) {
        value += line[i + 1];
        i += 2;
        continue;
      }
      if (quote && c === quote) quote = undefined;
      else if (!quote && (c === '"' || c === "'")) quote = c;
      else value += c;
      i++;
    }
    words.push({ raw: line.slice(start, i), value });
  }
  return words;
}

async function unitEnvironment(root: string, files: UnitFile[]): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const f of files) {
    for (const a of serviceAssignments(f.text)) {
      if (a.key === 'Environment') {
        for (const w of splitWords(a.value)) {
          const eq = w.value.indexOf('=');
          if (eq > 0) env[w.value.slice(0, eq)] = w.value.slice(eq + 1);
        }
      } else if (a.key === 'EnvironmentFile') {
        const text = await readText(atRoot(root, a.value.replace(/^-/, '')));
        if (text !== undefined) Object.assign(env, parseEnvFile(text));
      }
    }
  }
  return env;
}

/** `KEY=value` lines as systemd reads EnvironmentFile= (quotes stripped, comments skipped). */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m || line.startsWith('#')) continue;
    env[m[1]!] = splitWords(m[2]!).map((w) => w.value).join(' ');
  }
  return env;
}

/**
 * dockerd's flags on the winning ExecStart, `$VAR` expanded into words as systemd does.
 * The first word is the binary; anything after a bare `--` is not a flag.
 */
export function dockerdFlags(exec: ExecStart, env: Record<string, string>): DaemonFlag[] {
  const expanded: { value: string; word: number; source: string }[] = [];
  exec.words.forEach((w, idx) => {
    const ref = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$/.exec(w.raw);
    if (!ref) {
      expanded.push({ value: w.value, word: idx, source: exec.source });
      return;
    }
    const name = (ref[1] ?? ref[2])!;
    const val = env[name] ?? '';
    const parts = ref[1] ? [val] : splitWords(val).map((x) => x.value);
    for (const p of parts.filter(Boolean)) expanded.push({ value: p, word: idx, source: `$${name}` });
  });
  const flags: DaemonFlag[] = [];
  for (let i = 1; i < expanded.length; i++) {
    const cur = expanded[i]!;
    if (cur.value === '--') break;
    const m = /^(--?)([A-Za-z0-9-]+)(?:=(.*))?$/.exec(cur.value);
    if (!m) continue;
    const names = m[1] === '-' && m[2]!.length > 1 && m[3] === undefined ? [...m[2]!] : [m[2]!];
    for (const short of names) {
      const name = longFlagName(short);
      if (m[3] !== undefined || BOOLEAN_FLAGS.has(name)) {
        flags.push({ name, value: m[3] ?? 'true', words: [cur.word], source: cur.source });
      } else {
        const next = expanded[i + 1];
        flags.push({ name, value: next?.value ?? '', words: next ? [cur.word, next.word] : [cur.word], source: cur.source });
        i++;
      }
    }
  }
  return flags;
}

/** The ExecStart line with some words left out, keeping every other word as the user wrote it. */
export function execStartWithout(exec: ExecStart, dropWords: Set<number>): string {
  return exec.words.filter((_, i) => !dropWords.has(i)).map((w) => w.raw).join(' ');
}
