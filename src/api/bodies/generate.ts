/**
 * Writes the Go type descriptions of request bodies (src/api/bodies/*.generated.ts) from moby's
 * own Go source, so a description cannot drift from the struct dockerd decodes into: every
 * field, tag, embedding and type comes from the source, and anything the decoder does not model
 * (a custom UnmarshalJSON/MarshalJSON, a `,string` tag, []byte, an inline struct) stops the
 * generator instead of being guessed. Hand-written descriptions of ~150 fields per version were
 * the alternative; they would silently miss the next field moby adds.
 *
 *   node --import tsx src/api/bodies/generate.ts --moby-20.10 DIR --moby-26.1 DIR --moby-28.5 DIR
 *
 * DIR is moby's source (`…/gocode/src/github.com/docker/docker`, from Debian's
 * golang-github-docker-docker-dev: bookworm has 20.10.24, trixie 26.1.5, sid 28.5.2;
 * scripts/engines.sh unpacks each under DOCKWARD_ENGINES_DIR: moby-20.10/root/…, trixie/root/…,
 * newest/root/…). Types from outside moby
 * (go-connections, go-units, docker-image-spec, the standard library) are in EXTERNAL below,
 * copied from the versions those moby releases use.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Target {
  /** The file written next to this one. */
  file: string;
  exportName: string;
  moby: string;
  /** The API version the source must declare (api/common.go DefaultVersion). */
  api: string;
  /** The route whose body this is, `METHOD /template`. */
  route: string;
  /** The Go type dockerd decodes the body into, as package.Type under moby's source root. */
  root: string;
  rootPackageDir: string;
}

type Moby = 'moby-20.10' | 'moby-26.1' | 'moby-28.5';

const MOBY_VERSIONS: Record<Moby, { moby: string; api: string; suffix: string }> = {
  'moby-20.10': { moby: '20.10.24', api: '1.41', suffix: '141' },
  'moby-26.1': { moby: '26.1.5', api: '1.45', suffix: '145' },
  'moby-28.5': { moby: '28.5.2', api: '1.51', suffix: '151' },
};

/**
 * Per body: the route, the file stem, and the Go type each moby version decodes it into (its router
 * code: api/server/router/*, and runconfig.decodeContainerConfig for create).
 */
const BODIES: { route: string; stem: string; roots: Record<Moby, [packageDir: string, type: string]> }[] = [
  {
    route: 'POST /containers/create',
    stem: 'container-create',
    roots: {
      'moby-20.10': ['runconfig', 'ContainerConfigWrapper'],
      'moby-26.1': ['runconfig', 'ContainerConfigWrapper'],
      'moby-28.5': ['api/types/container', 'CreateRequest'],
    },
  },
  {
    route: 'POST /containers/{id}/exec',
    stem: 'exec-create',
    roots: { 'moby-20.10': ['api/types', 'ExecConfig'], 'moby-26.1': ['api/types', 'ExecConfig'], 'moby-28.5': ['api/types/container', 'ExecOptions'] },
  },
  {
    route: 'POST /containers/{id}/update',
    stem: 'container-update',
    roots: {
      'moby-20.10': ['api/types/container', 'UpdateConfig'],
      'moby-26.1': ['api/types/container', 'UpdateConfig'],
      'moby-28.5': ['api/types/container', 'UpdateConfig'],
    },
  },
  {
    route: 'POST /volumes/create',
    stem: 'volume-create',
    roots: {
      'moby-20.10': ['api/types/volume', 'VolumeCreateBody'],
      'moby-26.1': ['api/types/volume', 'CreateOptions'],
      'moby-28.5': ['api/types/volume', 'CreateOptions'],
    },
  },
  {
    route: 'POST /networks/create',
    stem: 'network-create',
    roots: {
      'moby-20.10': ['api/types', 'NetworkCreateRequest'],
      'moby-26.1': ['api/types', 'NetworkCreateRequest'],
      'moby-28.5': ['api/types/network', 'CreateRequest'],
    },
  },
  {
    route: 'POST /services/create',
    stem: 'service-spec',
    roots: {
      'moby-20.10': ['api/types/swarm', 'ServiceSpec'],
      'moby-26.1': ['api/types/swarm', 'ServiceSpec'],
      'moby-28.5': ['api/types/swarm', 'ServiceSpec'],
    },
  },
];

const camel = (stem: string) => stem.replace(/-(\w)/g, (_m, c: string) => c.toUpperCase());

/** Every body the generator writes, by moby version. */
export const TARGETS: Record<Moby, Target[]> = Object.fromEntries(
  (Object.entries(MOBY_VERSIONS) as [Moby, (typeof MOBY_VERSIONS)[Moby]][]).map(([key, v]) => [
    key,
    BODIES.map(({ route, stem, roots }) => {
      const [rootPackageDir, type] = roots[key];
      return {
        file: `${stem}-${v.api}.generated.ts`,
        exportName: `${camel(stem)}${v.suffix}`,
        moby: v.moby,
        api: v.api,
        route,
        root: `${rootPackageDir.slice(rootPackageDir.lastIndexOf('/') + 1)}.${type}`,
        rootPackageDir,
      };
    }),
  ]),
) as Record<Moby, Target[]>;

const MOBY = 'github.com/docker/docker/';

/** Types from outside moby, in Go syntax, with where they were read. */
const EXTERNAL: Record<string, { pkg: string; from: string; source: string }> = {
  time: { pkg: 'time', from: 'Go standard library', source: 'type Duration int64' },
  os: { pkg: 'os', from: 'Go standard library', source: 'type FileMode uint32' },
  'github.com/docker/go-connections/nat': {
    pkg: 'nat',
    from: 'docker/go-connections nat/nat.go',
    source: [
      'type PortBinding struct {',
      '\tHostIP string `json:"HostIp"`',
      '\tHostPort string',
      '}',
      'type PortMap map[Port][]PortBinding',
      'type PortSet map[Port]struct{}',
      'type Port string',
    ].join('\n'),
  },
  'github.com/docker/go-units': {
    pkg: 'units',
    from: 'docker/go-units ulimit.go',
    source: ['type Ulimit struct {', '\tName string', '\tHard int64', '\tSoft int64', '}'].join('\n'),
  },
  'github.com/moby/docker-image-spec/specs-go/v1': {
    pkg: 'v1',
    from: 'moby/docker-image-spec specs-go/v1/image.go',
    source: [
      'import "time"',
      'type HealthcheckConfig struct {',
      '\tTest []string `json:",omitempty"`',
      '\tInterval time.Duration `json:",omitempty"`',
      '\tTimeout time.Duration `json:",omitempty"`',
      '\tStartPeriod time.Duration `json:",omitempty"`',
      '\tStartInterval time.Duration `json:",omitempty"`',
      '\tRetries int `json:",omitempty"`',
      '}',
    ].join('\n'),
  },
};

/** Named types with their own JSON methods that the decoder models, by import path and name. */
const MODELLED: Record<string, string> = { [`${MOBY}api/types/strslice.StrSlice`]: 'g.strslice' };

interface GoPackage {
  path: string;
  types: Map<string, string[] | string>; // struct body lines, or the underlying type expression
  imports: Map<string, string>; // package name → import path, per file merged (names agree in moby)
  methods: Set<string>; // "Type.Method" for JSON/Text (un)marshalers
}

class Generator {
  readonly packages = new Map<string, GoPackage>();
  readonly emitted = new Map<string, string>(); // qualified struct → TS const name
  readonly decls: string[] = [];
  readonly sources = new Set<string>();

  constructor(readonly root: string) {}

  pkg(importPath: string): GoPackage {
    let p = this.packages.get(importPath);
    if (p) return p;
    const ext = EXTERNAL[importPath];
    if (ext) {
      p = parsePackage(importPath, [ext.source]);
      this.sources.add(`${ext.from} (${importPath})`);
    } else if (importPath.startsWith(MOBY)) {
      const dir = join(this.root, importPath.slice(MOBY.length));
      const files = readdirSync(dir)
        .filter((f) => f.endsWith('.go') && !f.endsWith('_test.go') && !/_(windows|darwin|freebsd|openbsd|solaris)\.go$/.test(f))
        .map((f) => readFileSync(join(dir, f), 'utf8'))
        .filter((src) => !/^\/\/go:build .*\bwindows\b/m.test(src) || /^\/\/go:build !windows/m.test(src));
      p = parsePackage(importPath, files);
    } else throw new Error(`generate: the Go package ${importPath} is not known (add it to EXTERNAL)`);
    this.packages.set(importPath, p);
    return p;
  }

  /** The TS expression describing a Go type expression written in package p. */
  type(expr: string, p: GoPackage, where: string): string {
    expr = expr.trim();
    if (expr.startsWith('*')) return `g.ptr(${this.type(expr.slice(1), p, where)})`;
    if (expr.startsWith('[]')) {
      if (/^\[\](byte|uint8)$/.test(expr)) return 'g.bytes';
      return `g.slice(${this.type(expr.slice(2), p, where)})`;
    }
    const arr = /^\[(\d+)\](.+)$/.exec(expr);
    if (arr) return `g.array(${arr[1]}, ${this.type(arr[2]!, p, where)})`;
    if (expr.startsWith('map[')) {
      const close = matchingBracket(expr, 3);
      const key = this.type(expr.slice(4, close), p, where);
      if (key !== 'g.string') throw new Error(`generate: ${where} has a map key of type ${expr.slice(4, close)}`);
      return `g.map(${this.type(expr.slice(close + 1), p, where)})`;
    }
    if (/^struct\s*\{\s*\}$/.test(expr)) return this.struct('struct{}', [], p, where);
    if (/^(interface\s*\{\s*\}|any)$/.test(expr)) return 'g.any';
    const builtin = BUILTIN[expr];
    if (builtin) return builtin;
    const m = /^(?:(\w+)\.)?(\w+)$/.exec(expr);
    if (!m) throw new Error(`generate: ${where} has a type the generator cannot read: ${expr}`);
    const target = m[1] ? p.imports.get(m[1]) : p.path;
    if (!target) throw new Error(`generate: ${where}: package ${m[1]} is not imported`);
    return this.named(target, m[2]!, where);
  }

  named(importPath: string, name: string, where: string): string {
    const p = this.pkg(importPath);
    const qualified = `${importPath}.${name}`;
    if (MODELLED[qualified]) return MODELLED[qualified]!;
    const methods = ['UnmarshalJSON', 'UnmarshalText', 'MarshalJSON', 'MarshalText'].filter((m) => p.methods.has(`${name}.${m}`));
    if (methods.length) throw new Error(`generate: ${qualified} has ${methods.join(', ')}: model it in gojson before using it`);
    const def = p.types.get(name);
    if (def === undefined) throw new Error(`generate: ${where}: type ${qualified} not found`);
    const goName = `${shortName(importPath)}.${name}`;
    if (typeof def !== 'string') return this.struct(goName, def, p, where);
    return /^struct\s*\{\s*\}$/.test(def) ? this.struct(goName, [], p, where) : this.type(def, p, goName);
  }

  struct(goName: string, lines: string[], p: GoPackage, _where: string): string {
    const key = lines.length ? `${p.path}.${goName}` : goName; // struct{} is one type wherever it is written
    const done = this.emitted.get(key);
    if (done) return done;
    const fields: string[] = [];
    for (const line of lines) fields.push(...this.fieldLine(line, p, goName));
    const id = `t${this.emitted.size}_${lines.length ? goName.replace(/\W+/g, '_') : 'emptyStruct'}`;
    this.emitted.set(key, id);
    this.decls.push(`const ${id} = g.struct(${JSON.stringify(goName)}, [${fields.length ? `\n  ${fields.join(',\n  ')},\n` : ''}]);`);
    return id;
  }

  fieldLine(line: string, p: GoPackage, owner: string): string[] {
    const tagMatch = /\s*`([^`]*)`$/.exec(line);
    const tag = tagMatch ? jsonTag(tagMatch[1]!) : undefined;
    const decl = tagMatch ? line.slice(0, tagMatch.index) : line;
    const embedded = /^(\*?)((?:\w+\.)?(\w+))$/.exec(decl.trim());
    if (embedded) {
      const [, star, typeExpr, typeName] = embedded;
      if (!/^[A-Z]/.test(typeName!)) throw new Error(`generate: ${owner} embeds unexported ${typeName}`);
      if (tag?.skip) return [];
      const t = this.type(`${star}${typeExpr}`, p, `${owner}.${typeName}`);
      if (tag?.name) return [`g.field(${JSON.stringify(typeName)}, ${t}${fieldOpts(tag)})`];
      if (!/^(g\.ptr\()?t\d+_/.test(t)) throw new Error(`generate: ${owner} embeds the non-struct ${typeExpr}`);
      return [`g.embed(${t})`];
    }
    const named = /^(\w+(?:\s*,\s*\w+)*)\s+(.+)$/.exec(decl.trim());
    if (!named) throw new Error(`generate: cannot read this field of ${owner}: ${line}`);
    if (/\{\s*$/.test(named[2]!) && !/\{\s*\}$/.test(named[2]!)) throw new Error(`generate: ${owner} has an inline struct`);
    const out: string[] = [];
    for (const name of named[1]!.split(/\s*,\s*/)) {
      if (!/^[A-Z]/.test(name) || tag?.skip) continue;
      if (tag?.string) throw new Error(`generate: ${owner}.${name} has a ,string tag`);
      out.push(`g.field(${JSON.stringify(name)}, ${this.type(named[2]!, p, `${owner}.${name}`)}${fieldOpts(tag)})`);
    }
    return out;
  }
}

const BUILTIN: Record<string, string> = {
  bool: 'g.bool',
  string: 'g.string',
  int: 'g.int',
  int64: 'g.int64',
  int32: 'g.int32',
  uint: 'g.uint',
  uint64: 'g.uint64',
  uint32: 'g.uint32',
  uint16: 'g.uint16',
  uint8: 'g.uint8',
  byte: 'g.uint8',
  float64: 'g.float64',
  float32: 'g.float32',
};

interface Tag {
  /** `json:"-"`: the field is not encoded or decoded. */
  skip: boolean;
  name: string;
  omitempty: boolean;
  string: boolean;
}

/** reflect.StructTag.Get("json") and encoding/json's parseTag/isValidTag. */
function jsonTag(raw: string): Tag | undefined {
  const m = /(?:^|\s)json:"((?:[^"\\]|\\.)*)"/.exec(raw);
  if (!m) return undefined;
  const [name = '', ...opts] = m[1]!.split(',');
  const valid = name !== '' && /^[A-Za-z0-9!#$%&()*+\-./:;<=>?@[\]^_{|}~ ]+$/.test(name);
  return { skip: name === '-' && opts.length === 0, name: valid ? name : '', omitempty: opts.includes('omitempty'), string: opts.includes('string') };
}

function fieldOpts(tag: Tag | undefined): string {
  const o: string[] = [];
  if (tag?.name) o.push(`tag: ${JSON.stringify(tag.name)}`);
  if (tag?.omitempty) o.push('omitempty: true');
  return o.length ? `, { ${o.join(', ')} }` : '';
}

function matchingBracket(s: string, open: number): number {
  let depth = 0;
  for (let k = open; k < s.length; k++) {
    if (s[k] === '[') depth++;
    else if (s[k] === ']' && --depth === 0) return k;
  }
  throw new Error(`generate: unbalanced brackets in ${s}`);
}

function shortName(importPath: string): string {
  return EXTERNAL[importPath]?.pkg ?? importPath.slice(importPath.lastIndexOf('/') + 1);
}

/** Go source without comments, line by line (tags and strings kept). */
function stripComments(src: string): string[] {
  const out: string[] = [];
  let inBlock = false;
  for (const raw of src.split('\n')) {
    let line = '';
    let quote = '';
    for (let k = 0; k < raw.length; k++) {
      const c = raw[k]!;
      if (inBlock) {
        if (c === '*' && raw[k + 1] === '/') {
          inBlock = false;
          k++;
        }
        continue;
      }
      if (quote) {
        line += c;
        if (c === '\\' && quote === '"') line += raw[++k] ?? '';
        else if (c === quote) quote = '';
        continue;
      }
      if (c === '/' && raw[k + 1] === '/') break;
      if (c === '/' && raw[k + 1] === '*') {
        inBlock = true;
        k++;
        continue;
      }
      if (c === '"' || c === '`') quote = c;
      line += c;
    }
    out.push(line.trimEnd());
  }
  return out;
}

function parsePackage(path: string, files: string[]): GoPackage {
  const p: GoPackage = { path, types: new Map(), imports: new Map(), methods: new Set() };
  for (const src of files) {
    const lines = stripComments(src);
    let group: 'import' | 'type' | undefined;
    for (let k = 0; k < lines.length; k++) {
      const line = lines[k]!;
      if (/^(import|type) \($/.test(line)) {
        group = line.startsWith('import') ? 'import' : 'type';
        continue;
      }
      if (group && line === ')') {
        group = undefined;
        continue;
      }
      const imp = group === 'import' ? /^\s*(\w+\s+)?"([^"]+)"$/.exec(line) : /^import\s+(\w+\s+)?"([^"]+)"$/.exec(line);
      if (imp) {
        const ip = imp[2]!;
        p.imports.set(imp[1]?.trim() ?? shortName(ip), ip);
        continue;
      }
      const method = /^func \(\w+ \*?(\w+)\) (UnmarshalJSON|UnmarshalText|MarshalJSON|MarshalText)\(/.exec(line);
      if (method) p.methods.add(`${method[1]}.${method[2]}`);
      const decl = group === 'type' ? /^\s+(\w+)\s+(?:=\s*)?(.+)$/.exec(line) : /^type\s+(\w+)\s+(?:=\s*)?(.+)$/.exec(line);
      if (!decl || (group !== 'type' && !line.startsWith('type'))) continue;
      const [, name, rest] = decl;
      if (p.types.has(name!)) throw new Error(`generate: ${path}.${name} is defined twice (build tags?)`);
      if (/^struct\s*\{$/.test(rest!.trim())) {
        const body: string[] = [];
        let depth = 1;
        while (++k < lines.length) {
          const l = lines[k]!.trim();
          depth += (l.match(/\{/g) ?? []).length - (l.match(/\}/g) ?? []).length;
          if (depth === 0) break;
          if (l) body.push(l);
        }
        p.types.set(name!, body);
      } else p.types.set(name!, rest!.trim());
    }
  }
  return p;
}

/** The TypeScript module describing target's root type, from moby's source at root. */
export function generate(target: Target, root: string): string {
  const common = readFileSync(join(root, 'api/common.go'), 'utf8');
  const api = /DefaultVersion\s*(?:string\s*)?=\s*"([\d.]+)"/.exec(common)?.[1];
  if (api !== target.api) throw new Error(`generate: ${root} is API ${api ?? '?'}, expected ${target.api} (moby ${target.moby})`);
  const gen = new Generator(root);
  const [pkgName, typeName] = target.root.split('.') as [string, string];
  const rootId = gen.named(`${MOBY}${target.rootPackageDir}`, typeName, pkgName);
  const external = [...gen.sources].sort();
  return [
    `// Generated by src/api/bodies/generate.ts from moby ${target.moby} (API ${target.api}): do not edit.`,
    `// The body of ${target.route} as dockerd ${target.moby} decodes it: ${target.root}.`,
    ...(external.length ? ['// Types from outside moby, as copied in generate.ts:', ...external.map((s) => `//   ${s}`)] : []),
    `import * as g from '../gojson/types.js';`,
    '',
    ...gen.decls,
    '',
    `export const ${target.exportName} = ${rootId};`,
    '',
  ].join('\n');
}

const USAGE = `usage: generate.ts ${Object.keys(MOBY_VERSIONS).map((k) => `[--${k} DIR]`).join(' ')}`;

function main(argv: string[]): void {
  const here = fileURLToPath(new URL('.', import.meta.url));
  let wrote = 0;
  for (let k = 0; k < argv.length; k += 2) {
    const key = argv[k]!.replace(/^--/, '') as Moby;
    const targets = TARGETS[key];
    const dir = argv[k + 1];
    if (!targets || !dir) throw new Error(`${USAGE} (got ${argv[k]})`);
    for (const target of targets) writeFileSync(join(here, target.file), generate(target, dir));
    wrote++;
  }
  if (!wrote) throw new Error(USAGE);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}
