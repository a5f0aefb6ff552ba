/**
 * Seeded generator of POST /containers/create bodies that stress Go's decoding rules on the
 * security-relevant fields: random key casing, Unicode folds (ſ, the Kelvin sign), `\u`-escaped
 * keys, case-variant duplicate keys, repeated HostConfig objects that merge, repeated Mounts
 * arrays that merge into their elements, nulls, top-level HostConfig fields, unknown keys, type
 * mismatches and trailing data. Values are ones dockerd accepts on a daemon started with
 * `--bridge=none`, so a refusal means a decoding difference, not a validation one.
 */

export function rng(seed: number): () => number {
  // mulberry32: small, seeded, good enough to pick cases.
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const chance = (r: Rand, p: number) => r() < p;

/** A struct key as a client could write it that Go still matches to `name`. */
export function mangleKey(r: Rand, name: string): string {
  let out = '';
  const mangle = chance(r, 0.7);
  for (const ch of name) {
    let c = ch;
    if (mangle) {
      if (chance(r, 0.5)) c = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
      if ((c === 's' || c === 'S') && chance(r, 0.25)) c = 'ſ';
      if ((c === 'k' || c === 'K') && chance(r, 0.5)) c = '\u212a';
    }
    out += mangle && chance(r, 0.15) ? `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}` : c;
  }
  return `"${out}"`;
}

const lit = (v: unknown) => JSON.stringify(v);

interface Member {
  key: string;
  value: string;
}

function object(members: Member[]): string {
  return `{${members.map((m) => `${m.key}:${m.value}`).join(',')}}`;
}

const CAPS = ['NET_ADMIN', 'SYS_ADMIN', 'CAP_SYS_PTRACE', 'chown', 'ALL', 'CAP_NET_RAW'];
const SECURITY = ['no-new-privileges', 'label=disable', 'seccomp=unconfined', 'no-new-privileges:true'];

function strslice(r: Rand, xs: readonly string[]): string {
  if (chance(r, 0.1)) return 'null';
  if (chance(r, 0.35)) return lit(pick(r, xs));
  return lit(Array.from({ length: Math.floor(r() * 3) }, () => pick(r, xs)));
}

/** Values per HostConfig field, ones dockerd accepts. */
const HOST_FIELDS: Record<string, (r: Rand, ctx: Ctx) => string> = {
  Privileged: (r) => (chance(r, 0.1) ? 'null' : lit(chance(r, 0.5))),
  CapAdd: (r) => strslice(r, CAPS),
  CapDrop: (r) => strslice(r, CAPS),
  Binds: (r) => (chance(r, 0.1) ? 'null' : lit(['/tmp:/b1', '/var/tmp:/b2:ro', '/:/host:ro'].filter(() => chance(r, 0.5)))),
  PidMode: (r) => lit(pick(r, ['', 'host'])),
  IpcMode: (r) => lit(pick(r, ['', 'private', 'shareable', 'host'])),
  UTSMode: (r) => lit(pick(r, ['', 'host'])),
  UsernsMode: (r) => lit(pick(r, ['', 'host'])),
  Devices: (r) =>
    chance(r, 0.1)
      ? 'null'
      : `[${['/dev/null', '/dev/zero']
          .filter(() => chance(r, 0.6))
          .map((p, k) => object([
            { key: mangleKey(r, 'PathOnHost'), value: lit(p) },
            { key: mangleKey(r, 'PathInContainer'), value: lit(`/dev/x${k}`) },
            { key: mangleKey(r, 'CgroupPermissions'), value: lit(pick(r, ['rwm', 'r'])) },
          ]))
          .join(',')}]`,
  SecurityOpt: (r) => (chance(r, 0.1) ? 'null' : lit(SECURITY.filter(() => chance(r, 0.3)))),
  Sysctls: (r) => {
    if (chance(r, 0.1)) return 'null';
    const m: Member[] = [];
    if (chance(r, 0.6)) m.push({ key: lit('kernel.shm_rmid_forced'), value: lit(pick(r, ['0', '1'])) });
    if (chance(r, 0.6)) m.push({ key: lit('kernel.msgmax'), value: lit(pick(r, ['8192', '65536'])) });
    if (chance(r, 0.3)) m.push({ key: lit('kernel.msgmax'), value: lit('16384') }); // a repeated map key: last wins
    return object(m);
  },
  ReadonlyRootfs: (r) => lit(chance(r, 0.5)),
  OomScoreAdj: (r) => lit(Math.floor(r() * 1000) - 500),
  PidsLimit: (r) => (chance(r, 0.3) ? 'null' : lit(Math.floor(r() * 100) + 1)),
  Init: (r) => (chance(r, 0.3) ? 'null' : lit(chance(r, 0.5))),
  Memory: (r) => lit(pick(r, [0, 64 << 20, 128 << 20])),
  Tmpfs: (r) => (chance(r, 0.2) ? 'null' : object(chance(r, 0.5) ? [{ key: lit('/run/t1'), value: lit('size=1m') }] : [])),
  Mounts: (r, ctx) => ctx.mounts.next(r),
  Ulimits: (r, ctx) => ctx.ulimits.next(r),
};

/**
 * An array field of one HostConfig (the inner one, or 20.10's top-level one) whose elements
 * merge when the key repeats: a full array first, then partial ones no longer than the backing
 * array, so every merged element stays one dockerd accepts.
 */
class MergedArray {
  backing = 0;
  constructor(
    readonly full: (r: Rand, k: number, merged: boolean) => string,
    readonly partial: (r: Rand) => string,
  ) {}
  next(r: Rand): string {
    if (chance(r, 0.1)) {
      this.backing = 0;
      return chance(r, 0.5) ? 'null' : '[]';
    }
    if (this.backing === 0 || chance(r, 0.3)) {
      const n = 1 + Math.floor(r() * 3);
      const old = this.backing;
      this.backing = Math.max(this.backing, n);
      return `[${Array.from({ length: n }, (_, k) => this.full(r, k, k < old)).join(',')}]`;
    }
    return `[${Array.from({ length: 1 + Math.floor(r() * this.backing) }, () => this.partial(r)).join(',')}]`;
  }
}

/** The merging arrays of one HostConfig; mount targets are unique per body. */
class Ctx {
  readonly mounts: MergedArray;
  readonly ulimits: MergedArray;
  constructor(targets: { next: number }) {
    const target = (r: Rand) => ({ key: mangleKey(r, 'Target'), value: lit(`/m${targets.next++}`) });
    this.mounts = new MergedArray(
      // Over an element of the backing array a bind mount: a tmpfs one would inherit its Source.
      (r, _k, merged) =>
        !merged && chance(r, 0.5)
          ? object([{ key: mangleKey(r, 'Type'), value: lit('tmpfs') }, target(r)])
          : object([{ key: mangleKey(r, 'Type'), value: lit('bind') }, { key: mangleKey(r, 'Source'), value: lit('/tmp') }, target(r)]),
      (r) =>
        object([
          ...(chance(r, 0.5) ? [{ key: mangleKey(r, 'ReadOnly'), value: lit(chance(r, 0.5)) }] : []),
          ...(chance(r, 0.5) ? [target(r)] : []),
        ]),
    );
    // []*units.Ulimit: the elements are pointers, and a repeated array merges into their pointees.
    this.ulimits = new MergedArray(
      (r, k) =>
        object([
          { key: mangleKey(r, 'Name'), value: lit(['nofile', 'nproc', 'core'][k]) },
          { key: mangleKey(r, 'Soft'), value: lit(pick(r, [1024, 2048])) },
          { key: mangleKey(r, 'Hard'), value: lit(pick(r, [4096, 8192])) },
        ]),
      (r) =>
        object([
          ...(chance(r, 0.5) ? [{ key: mangleKey(r, 'Soft'), value: lit(512) }] : []),
          ...(chance(r, 0.5) ? [{ key: mangleKey(r, 'Hard'), value: lit(16384) }] : []),
        ]),
    );
  }
}

function hostConfigMembers(r: Rand, ctx: Ctx, count: number): Member[] {
  const out: Member[] = [];
  const names = Object.keys(HOST_FIELDS);
  for (let k = 0; k < count; k++) {
    const name = pick(r, names);
    const reps = chance(r, 0.3) ? 2 : 1; // a case-variant duplicate: applied in order, the last wins
    for (let j = 0; j < reps; j++) {
      // A later null: nil for pointers, slices and maps, no change for anything else.
      const value = j > 0 && chance(r, 0.3) ? 'null' : HOST_FIELDS[name]!(r, ctx);
      out.push({ key: mangleKey(r, name), value });
    }
  }
  return out;
}

export interface GeneratedBody {
  body: Buffer;
  /** The body as text, for messages (U+E000 and U+E001 stand for invalid UTF-8). */
  text: string;
  /** What was mixed in, for the failure message. */
  traits: string[];
}

export function createBody(r: Rand, image: string): GeneratedBody {
  const traits: string[] = [];
  const targets = { next: 0 };
  let ctx = new Ctx(targets);
  const top: Member[] = [{ key: mangleKey(r, 'Image'), value: lit(image) }];
  if (chance(r, 0.5)) top.push({ key: mangleKey(r, 'Cmd'), value: strslice(r, ['true', 'sh', '-c']) });
  if (chance(r, 0.3)) top.push({ key: mangleKey(r, 'User'), value: lit(pick(r, ['', 'nobody', '1000:1000'])) });
  if (chance(r, 0.4)) {
    traits.push('labels');
    const labels = [{ key: lit('a'), value: lit('1') }, { key: '"\\u0061"', value: lit('2') }];
    if (chance(r, 0.5)) {
      traits.push('invalid UTF-8 and lone surrogates');
      labels.push({ key: '"k\\ud800"', value: '"v\\udc00\\ud83d\\ude00\\ud800\\u0041"' }, { key: '"raw\ue000"', value: '"x\ue001y\ue000"' });
    }
    top.push({ key: mangleKey(r, 'Labels'), value: object(labels) });
  }
  const innerCount = chance(r, 0.15) ? 0 : 1 + Math.floor(r() * 3);
  if (chance(r, 0.35) || innerCount === 0) {
    traits.push('top-level HostConfig fields');
    top.push(...hostConfigMembers(r, new Ctx(targets), 1 + Math.floor(r() * 3)));
  }
  for (let k = 0; k < innerCount; k++) {
    if (k < innerCount - 1 && chance(r, 0.15)) {
      traits.push('HostConfig null');
      top.push({ key: mangleKey(r, 'HostConfig'), value: 'null' });
      ctx = new Ctx(targets);
      continue;
    }
    const members = hostConfigMembers(r, ctx, 1 + Math.floor(r() * 6));
    // The last HostConfig object names the network: the test daemon has no bridge.
    if (k === innerCount - 1) members.push({ key: mangleKey(r, 'NetworkMode'), value: lit('none') });
    top.push({ key: mangleKey(r, 'HostConfig'), value: object(members) });
  }
  if (innerCount > 1) traits.push('repeated HostConfig');
  if (chance(r, 0.3)) {
    // A map of pointers: a repeated network name is decoded fresh (its DriverOpts do not merge),
    // while a repeated EndpointsConfig keeps the entries it had.
    traits.push('EndpointsConfig');
    const endpoint = () => object([{ key: mangleKey(r, 'DriverOpts'), value: object([{ key: lit(pick(r, ['a', 'b'])), value: lit(pick(r, ['1', '2'])) }]) }]);
    const endpoints = () => object(Array.from({ length: 1 + Math.floor(r() * 2) }, () => ({ key: pick(r, ['"none"', '"\\u006eone"']), value: endpoint() })));
    const members = Array.from({ length: 1 + Math.floor(r() * 2) }, () => ({ key: mangleKey(r, 'EndpointsConfig'), value: endpoints() }));
    top.push({ key: mangleKey(r, 'NetworkingConfig'), value: object(members) });
  }
  if (innerCount === 0) top.push({ key: mangleKey(r, 'NetworkMode'), value: lit('none') });
  if (chance(r, 0.1)) {
    traits.push('unknown key');
    top.push({ key: lit('Bogus'), value: lit({ Privileged: true }) });
  }
  if (chance(r, 0.04)) {
    traits.push('type mismatch');
    top.push({ key: mangleKey(r, 'HostConfig'), value: object([{ key: mangleKey(r, 'Privileged'), value: lit('true') }]) });
  }
  let body = object(top);
  const tail = r();
  if (tail < 0.05) {
    traits.push('trailing }');
    body += '}';
  } else if (tail < 0.1) {
    traits.push('trailing value');
    body += '{"HostConfig":{"Privileged":true}}';
  } else if (tail < 0.15) body += '\n';
  return { body: invalidUtf8(body), text: body, traits };
}

/** UTF-8 of text, with U+E000 as a lone 0xFF byte and U+E001 as a truncated sequence (E2 82). */
function invalidUtf8(text: string): Buffer {
  const parts = text.split(/([\ue000\ue001])/);
  return Buffer.concat(parts.map((p) => (p === '\ue000' ? Buffer.from([0xff]) : p === '\ue001' ? Buffer.from([0xe2, 0x82]) : Buffer.from(p))));
}
