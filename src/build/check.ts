/**
 * A constrained role's classic build, checked before dockerd sees it. dockerd runs the build as
 * root in the host's network namespace, so what the Dockerfile makes it fetch or pull is fetched
 * for the caller with the host's reach, and what a build step's container is labelled is what
 * ownership reads. The build context (spooled to a file) is read as dockerd unpacks it, its
 * Dockerfile parsed as the builder parses it (dockerfile.ts), its variables substituted as the
 * builder does (shell-lex.ts), and refused:
 * - an ADD whose source is a URL (the builder downloads http(s) sources; git ones too, elsewhere);
 * - a FROM or COPY --from image from a registry the role may not pull from, or not on the daemon
 *   (the builder would pull it, and its ONBUILD triggers and labels could not be read first);
 * - a LABEL (the base image's labels included) under io.dockward. or com.docker.compose.: a build
 *   step's container carries them, and would pass for another tenant's or compose project's;
 * - ONBUILD instructions that would do any of this in a later build;
 * - whatever depends on a value that cannot be known, and `pull` and `platform`, which make the
 *   builder fetch a base image other than the one inspected.
 */
import { engineRequest } from '../engine/engine-client.js';
import { NAME_PATTERN, TAG_PATTERN } from '../api/reference.js';
import { registryAllowed, registryOf } from '../policy/constraints/query.js';
import type { RoleRules } from '../policy/constraints/rules.js';
import type { BodyCode } from '../policy/codes.js';
import { OWNER_LABEL } from '../ownership/label.js';
import { ArchiveError, compressionOf, fileIn, unpack } from '../util/tar-file.js';
import { DockerfileError, listWords, pairs, parseDockerfile, whitespaceWords, type Instruction } from './dockerfile.js';
import { processWord, Unknowable, type Lookup } from './shell-lex.js';

export type BuildCode = Extract<BodyCode, 'DW_BODY_FETCH' | 'DW_BODY_REGISTRY' | 'DW_BODY_BUILD_LABEL' | 'DW_BODY_BUILD_UNKNOWN' | 'DW_BODY_BUILD_BASE' | 'DW_BODY_INVALID'>;

export class BuildRefusal extends Error {
  constructor(
    readonly status: 400 | 403,
    readonly code: BuildCode,
    message: string,
  ) {
    super(message);
    this.name = 'BuildRefusal';
  }
}

/** Labels a build step's container must not carry: ownership's, and compose's project and service. */
const RESERVED_LABELS = ['io.dockward.', 'com.docker.compose.'];
/** The build args dockerd passes without an ARG (builtinAllowedBuildArgs). */
const BUILTIN_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);
/** A Dockerfile is kept in memory while it is read: larger ones are refused. */
const MAX_DOCKERFILE_BYTES = 4 << 20;

/** A name, an optional tag and digest; or an image id (prefix). */
const REFERENCE = new RegExp(`^(?:${NAME_PATTERN}(?::${TAG_PATTERN})?(?:@sha256:[a-f0-9]{64})?|(?:sha256:)?[a-f0-9]{12,64})$`);

export interface BuildRequest {
  rules: RoleRules;
  /** The tenant (scope: own) whose own owner label a base image may carry. */
  owner?: string;
  /** The forwarded query: dockerfile, buildargs, pull, platform. */
  query: URLSearchParams;
  socketPath: string;
}

interface ImageConfig {
  Env?: string[] | null;
  Labels?: Record<string, string> | null;
  OnBuild?: string[] | null;
}

const refusal = (code: BuildCode, message: string) => new BuildRefusal(code === 'DW_BODY_INVALID' ? 400 : 403, code, `dockward: ${message}`);
const at = (i: Instruction, what: string) => `${i.cmd.toUpperCase()} on line ${i.line} ${what}`;

/** Go's strings.TrimSpace (unicode.IsSpace), which trims no BOM where String.prototype.trim does. */
const goTrimSpace = (s: string) => s.replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, '');
/** httputils.BoolValue: anything but "", "0", "no", "false", "none". */
const boolValue = (v: string | null) => !['', '0', 'no', 'false', 'none'].includes(goTrimSpace(v ?? '').toLowerCase());

/**
 * What the build context's Dockerfile is, as dockerd finds it: the `dockerfile` path joined to the
 * context root. dockerd opens the name's bytes; tar names are read byte for byte (latin1), so the
 * path is compared as its UTF-8 bytes. A byte that is not UTF-8 was decoded to U+FFFD and is
 * lost, so such a name is refused.
 */
function dockerfilePath(query: URLSearchParams): string {
  const given = query.get('dockerfile') || 'Dockerfile';
  if (given.includes('\ufffd')) throw refusal('DW_BODY_INVALID', 'the dockerfile parameter is not UTF-8');
  const raw = Buffer.from(given, 'utf8').toString('latin1');
  const parts: string[] = [];
  for (const p of raw.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (!parts.length) throw refusal('DW_BODY_INVALID', `the Dockerfile ${JSON.stringify(raw)} is outside the build context`);
      parts.pop();
    } else parts.push(p);
  }
  return parts.join('/');
}

async function readDockerfile(file: string, query: URLSearchParams): Promise<string> {
  const path = dockerfilePath(query);
  // dockerd falls back to "dockerfile" when the default name is missing.
  const names = (query.get('dockerfile') || 'Dockerfile') === 'Dockerfile' ? [path, 'dockerfile'] : [path];
  try {
    const u = await unpack(file, await compressionOf(file), (e) => {
      if (!names.includes(e.name)) return false;
      if (e.size > MAX_DOCKERFILE_BYTES) throw new ArchiveError(`the Dockerfile is over ${MAX_DOCKERFILE_BYTES} bytes`);
      return true;
    });
    for (const name of names) {
      const data = fileIn(u, name);
      if (data !== undefined) return (data as Buffer).toString('utf8');
    }
  } catch (e) {
    if (e instanceof ArchiveError) throw refusal('DW_BODY_INVALID', `the build context cannot be read: ${e.message}`);
    throw e;
  }
  throw refusal('DW_BODY_INVALID', `the build context has no Dockerfile ${JSON.stringify(path)}`);
}

/** `buildargs`: a JSON object of strings or nulls (map[string]*string). */
function buildArgs(query: URLSearchParams): Map<string, string | null> {
  const raw = query.get('buildargs');
  if (!raw) return new Map();
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw refusal('DW_BODY_INVALID', 'buildargs is not a JSON object');
  }
  if (v === null) return new Map();
  if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => x !== null && typeof x !== 'string')) throw refusal('DW_BODY_INVALID', 'buildargs is not a JSON object of strings');
  return new Map(Object.entries(v as Record<string, string | null>));
}

/** What a build stage knows: its environment (the base image's and ENV's), its ARGs, its ONBUILD triggers. */
interface Stage {
  env: Map<string, string | 'unknown'>;
  args: Map<string, string | null | 'unknown'>;
  /** What a later FROM of this stage runs, as the image config holds them. */
  triggers: string[];
}

class BuildCheck {
  private readonly args: Map<string, string | null>;
  /** ARGs before the first FROM: their value (a build arg's, else the default), for FROM. */
  private readonly meta = new Map<string, string | null | 'unknown'>();
  /** Finished stages by lower-case name, and in order (COPY --from=<index>). */
  private readonly named = new Map<string, Stage>();
  private count = 0;

  constructor(private readonly r: BuildRequest) {
    this.args = buildArgs(r.query);
  }

  private builtin(name: string): string | 'unknown' {
    const v = BUILTIN_ARGS.has(name) ? this.args.get(name) : undefined;
    return typeof v === 'string' ? v : 'unknown';
  }

  private readonly fromLookup: Lookup = (name) => (this.meta.has(name) ? this.meta.get(name)! : this.builtin(name));

  private stageLookup(s: Stage): Lookup {
    return (name) => (s.env.has(name) ? s.env.get(name)! : s.args.has(name) ? s.args.get(name)! : this.builtin(name));
  }

  /** An ARG's value: the build arg, else its default, else (in a stage) the meta ARG's default. */
  private argValue(name: string, value: string | undefined, lookup: Lookup, escape: string, inStage: boolean): string | null | 'unknown' {
    const given = this.args.get(name);
    if (typeof given === 'string') return given;
    if (value !== undefined) return known(() => processWord(value, escape, lookup));
    return inStage && this.meta.has(name) ? this.meta.get(name)! : null;
  }

  private word(i: Instruction, text: string, escape: string, lookup: Lookup, what: string): string {
    try {
      return processWord(text, escape, lookup);
    } catch (e) {
      if (e instanceof Unknowable) throw refusal('DW_BODY_BUILD_UNKNOWN', at(i, `${what} cannot be known: ${e.message}`));
      throw e;
    }
  }

  async run(text: string): Promise<void> {
    const { escape, instructions } = parseDockerfile(text);
    let stage: Stage | undefined;
    let name = '';
    for (const i of instructions) {
      if (i.cmd === 'from') {
        if (stage) this.finish(name, stage);
        ({ stage, name } = await this.from(i, escape));
      } else if (!stage) {
        if (i.cmd !== 'arg') throw refusal('DW_BODY_INVALID', at(i, 'comes before the first FROM'));
        for (const [k, v] of pairs(i.rest, escape, false)) {
          const key = this.word(i, k, escape, this.fromLookup, 'the ARG name');
          this.meta.set(key, this.argValue(key, v, this.fromLookup, escape, false));
        }
      } else await this.instruction(i, escape, stage);
    }
  }

  private finish(name: string, stage: Stage): void {
    if (name) this.named.set(name, stage);
    this.count++;
  }

  private async from(i: Instruction, escape: string): Promise<{ stage: Stage; name: string }> {
    if (i.flags.length) throw refusal('DW_BODY_BUILD_BASE', at(i, `has ${i.flags.map((f) => JSON.stringify(f)).join(', ')}: FROM flags (--platform) make the builder pull an image dockward has not inspected`));
    const words = whitespaceWords(i.rest);
    if (!(words.length === 1 || (words.length === 3 && words[1]!.toLowerCase() === 'as'))) throw refusal('DW_BODY_INVALID', at(i, 'takes an image and optionally AS <name>'));
    const base = this.word(i, words[0]!, escape, this.fromLookup, 'the image');
    const name = words[2]?.toLowerCase() ?? '';
    const stage: Stage = { env: new Map(), args: new Map(), triggers: [] };
    const prior = this.named.get(base.toLowerCase());
    if (prior) {
      stage.env = new Map(prior.env);
      await this.triggers(i, escape, stage, prior.triggers, `stage ${JSON.stringify(base)}`);
      return { stage, name };
    }
    if (base === 'scratch') return { stage, name };
    const config = await this.image(i, base);
    for (const e of config.Env ?? []) {
      const eq = e.indexOf('=');
      if (eq > 0) stage.env.set(e.slice(0, eq), e.slice(eq + 1));
    }
    for (const key of Object.keys(config.Labels ?? {})) {
      if (key === OWNER_LABEL && config.Labels![key] === this.r.owner) continue;
      if (reserved(key)) throw refusal('DW_BODY_BUILD_LABEL', at(i, `names the image ${JSON.stringify(base)}, which carries the label ${JSON.stringify(key)}: a build step's container would carry it`));
    }
    await this.triggers(i, escape, stage, config.OnBuild ?? [], JSON.stringify(base));
    return { stage, name };
  }

  /**
   * The ONBUILD triggers of what FROM names, run now in this stage: each parsed as a Dockerfile
   * of its own (escape token: backslash), its words then substituted with this Dockerfile's escape token.
   */
  private async triggers(i: Instruction, escape: string, stage: Stage, triggers: string[], whose: string): Promise<void> {
    if (triggers.length && escape !== '\\') throw refusal('DW_BODY_BUILD_UNKNOWN', at(i, `names ${whose}, whose ONBUILD triggers the builder parses with the escape token \\ but substitutes with this Dockerfile's ${JSON.stringify(escape)}, which dockward does not follow`));
    for (const trigger of triggers) {
      const t = parseDockerfile(trigger);
      if (t.instructions.length !== 1) throw refusal('DW_BODY_INVALID', at(i, `names ${whose}, whose ONBUILD trigger is not one instruction`));
      await this.instruction({ ...t.instructions[0]!, line: i.line }, t.escape, stage, `(an ONBUILD trigger of ${whose})`);
    }
  }

  /** The config of an image the builder uses, which must be on the daemon and from a registry the role may pull from. */
  private async image(i: Instruction, ref: string): Promise<ImageConfig> {
    if (!REFERENCE.test(ref) || ref.length > 512) throw refusal('DW_BODY_INVALID', at(i, `names ${JSON.stringify(ref.slice(0, 200))}, which is not an image reference dockward can check`));
    const registry = registryOf(ref);
    if (!registryAllowed(registry, this.r.rules)) throw refusal('DW_BODY_REGISTRY', at(i, `names ${JSON.stringify(ref)}: pulling from registry ${registry} is not allowed for this role`));
    const res = await engineRequest({ socketPath: this.r.socketPath }, 'GET', `/images/${ref}/json`);
    if (res.status === 404) throw refusal('DW_BODY_BUILD_BASE', at(i, `names ${JSON.stringify(ref)}, which is not on the daemon: pull it first (docker pull ${ref}), then build`));
    if (res.status !== 200) throw new Error(`the daemon answered ${res.status} about image ${ref}`);
    return (JSON.parse(res.body.toString('utf8')) as { Config?: ImageConfig | null }).Config ?? {};
  }

  /** One instruction of a stage (or a base image's trigger, `from` saying so). */
  private async instruction(i: Instruction, escape: string, s: Stage, from = ''): Promise<void> {
    const where = (what: string) => (from ? `${what} ${from}` : what);
    const lookup = this.stageLookup(s);
    switch (i.cmd) {
      case 'arg':
        for (const [k, v] of pairs(i.rest, escape, false)) {
          const key = this.word(i, k, escape, lookup, where('the ARG name'));
          s.args.set(key, this.argValue(key, v, lookup, escape, true));
        }
        return;
      case 'env':
        for (const [k, v] of pairs(i.rest, escape, true)) {
          const key = this.word(i, k, escape, lookup, where('the ENV name'));
          s.env.set(key, known(() => processWord(v ?? '', escape, lookup)));
        }
        return;
      case 'add':
        return this.add(i, escape, lookup, where);
      case 'label':
        return this.label(i, escape, lookup, where);
      case 'copy':
        return this.copyFrom(i, where);
      case 'onbuild':
        // The trigger as the builder keeps it: the instruction's text without ONBUILD.
        s.triggers.push(i.text.replace(/^[\t\n\f\r ]*onbuild[\t\n\f\r ]*/i, ''));
        return this.onbuild(i, escape);
    }
  }

  private add(i: Instruction, escape: string, lookup: Lookup, where: (w: string) => string): void {
    // Whatever the parser makes of the words, no part of them may name a URL.
    if (fetched(loose(i.text, escape))) throw refusal('DW_BODY_FETCH', at(i, where('names a URL: the daemon would fetch it, as root, from the host')));
    for (const words of listWords(i.rest)) {
      for (const w of words.slice(0, -1)) {
        const source = this.word(i, w, escape, lookup, where(`the source ${JSON.stringify(w.slice(0, 100))}`));
        if (fetched(source)) throw refusal('DW_BODY_FETCH', at(i, where(`names the URL ${JSON.stringify(source.slice(0, 200))}: the daemon would fetch it, as root, from the host`)));
      }
    }
  }

  private label(i: Instruction, escape: string, lookup: Lookup, where: (w: string) => string): void {
    const refused = (key: string) => refusal('DW_BODY_BUILD_LABEL', at(i, where(`sets ${JSON.stringify(key.slice(0, 100))}: labels under ${RESERVED_LABELS.join(' and ')} are not set by a build (its steps' containers would carry them)`)));
    const text = loose(i.text, escape);
    const hit = RESERVED_LABELS.find((p) => text.includes(p));
    if (hit) throw refused(hit);
    for (const [k] of pairs(i.rest, escape, true)) {
      const key = this.word(i, k, escape, lookup, where('the label name'));
      if (reserved(key)) throw refused(key);
    }
  }

  private async copyFrom(i: Instruction, where: (w: string) => string): Promise<void> {
    for (const f of i.flags) {
      const m = /^--from(=|$)/i.exec(f);
      if (!m) continue;
      const ref = f.slice(m[0].length);
      if (ref.includes('$')) throw refusal('DW_BODY_BUILD_UNKNOWN', at(i, where('has --from with a variable, which the builder does not substitute')));
      if (this.named.has(ref.toLowerCase())) continue;
      if (/^[+-]?[0-9]+$/.test(ref)) {
        const n = Number(ref);
        if (n >= 0 && n < this.count) continue;
        throw refusal('DW_BODY_INVALID', at(i, where(`has --from=${ref}, which is no earlier stage`)));
      }
      await this.image(i, ref);
    }
  }

  /** ONBUILD: run in a later build, whose variables are not known here. */
  private async onbuild(i: Instruction, escape: string): Promise<void> {
    const sub = i.sub!;
    if (sub.cmd === 'copy' && sub.flags.some((f) => /^--from/i.test(f))) throw refusal('DW_BODY_BUILD_UNKNOWN', at(i, 'has COPY --from, which names an image of a later build'));
    const nothing: Lookup = () => 'unknown';
    if (sub.cmd === 'add') this.add({ ...sub, line: i.line }, escape, nothing, (w) => `${w} (ONBUILD)`);
    if (sub.cmd === 'label') this.label({ ...sub, line: i.line }, escape, nothing, (w) => `${w} (ONBUILD)`);
    return Promise.resolve();
  }
}

function known(f: () => string): string | 'unknown' {
  try {
    return f();
  } catch (e) {
    if (e instanceof Unknowable) return 'unknown';
    throw e;
  }
}

const reserved = (key: string) => RESERVED_LABELS.some((p) => key.startsWith(p));

/** urlutil.IsURL, and the git sources BuildKit's ADD takes; anywhere in the word, in any case. */
const fetched = (w: string) => {
  const l = w.toLowerCase();
  return l.includes('://') || l.includes('git@') || /(^|[\s"'[,])github\.com\//.test(l);
};

/** The text with every quote and escape token dropped: whatever a word of it becomes holds no mark this lacks. */
const loose = (text: string, escape: string) => text.replace(/["']/g, '').split(escape).join('').toLowerCase();

/** Throws the refusal (BuildRefusal) for a build context (a spooled file) the request may not build. */
export async function checkBuildContext(r: BuildRequest, file: string): Promise<void> {
  if (boolValue(r.query.get('pull'))) throw refusal('DW_BODY_BUILD_BASE', 'pull is not allowed for this role: the builder would pull base images dockward has not inspected (docker pull them, then build without --pull)');
  if ((r.query.get('platform') ?? '') !== '') throw refusal('DW_BODY_BUILD_BASE', 'platform is not allowed for this role: the builder would pull a base image dockward has not inspected');
  const text = await readDockerfile(file, r.query);
  try {
    await new BuildCheck(r).run(text);
  } catch (e) {
    if (e instanceof DockerfileError) throw refusal('DW_BODY_INVALID', `the Dockerfile cannot be read${e.line ? ` (line ${e.line})` : ''}: ${e.message}`);
    throw e;
  }
}
