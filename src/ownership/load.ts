/**
 * `docker load` of a tenant, checked before dockerd sees it: the archive (spooled to a file by
 * the gateway) is read as dockerd's loader reads it (moby image/tarexport/load.go; with the
 * containerd image store, containerd's archive importer), and refused when a name it would point
 * is another tenant's, or an image it would make carries an `io.dockward.*` label other than the
 * tenant's own owner label (a loaded image must not pass for another tenant's).
 *
 * What dockerd reads: the whole input decompressed (gzip here; bzip2, xz and zstd are refused,
 * Node cannot read them), then `manifest.json` (each entry's `RepoTags` and `Config`), or without
 * it the legacy layout (every top-level directory an image, `<dir>/json` its config, named by
 * `repositories`). dockerd with the graph drivers ignores an OCI layout (`index.json`); with the
 * containerd image store it prefers one, and its names and configs, reached through
 * content-addressed manifests, are not followed here: such an archive is refused.
 */
import { decode, GoJsonError } from '../api/gojson/decode.js';
import { NAME_PATTERN, TAG_PATTERN } from '../api/reference.js';
import { encode } from '../api/gojson/encode.js';
import { field, map, slice, string, struct } from '../api/gojson/types.js';
import { engineJson } from '../engine/engine-client.js';
import { ArchiveError, compressionOf, fileIn as archiveFile, unpack as unpackArchive, type Compression, type Unpacked } from '../util/tar-file.js';
import type { TarEntry } from '../util/go-tar.js';
import type { OwnershipCache } from './cache.js';
import { OWNER_LABEL, OwnershipRefusal, RESERVED_PREFIX } from './label.js';
import { refuseOthersNames } from './images.js';

/** JSON files dockerd (or containerd, `jsonLimit`) reads are refused past this. */
const MAX_JSON_BYTES = 20 << 20;
/** What is kept of the archive in memory while it is read: small JSON files, in all. */
const METADATA_BUDGET = 64 << 20;
/** Files kept on the first reading, on the chance they are configs; larger ones are read again if needed. */
const SMALL_FILE = 1 << 20;

const TOP_FILES = new Set(['manifest.json', 'repositories', 'index.json', 'oci-layout']);

/** moby's tarexport manifestItem (the fields dockward reads; Go ignores the rest as it does). */
const MANIFEST = slice(
  struct('tarexport.manifestItem', [field('Config', string), field('RepoTags', slice(string)), field('Layers', slice(string)), field('Parent', string, { omitempty: true })]),
);
const REPOSITORIES = map(map(string));

function invalid(message: string): OwnershipRefusal {
  return new OwnershipRefusal(400, 'DW_OWNER_INVALID', `dockward: the archive cannot be loaded by a tenant: ${message}`);
}

/** The shared reader's failures are this check's refusals. */
const asRefusal = (e: unknown) => (e instanceof ArchiveError ? invalid(e.message) : e);

function unpack(file: string, compression: Compression, keep: (e: TarEntry, kept: number) => boolean): Promise<Unpacked> {
  return unpackArchive(file, compression, keep).catch((e: unknown) => {
    throw asRefusal(e);
  });
}

function fileIn(u: Unpacked, name: string): ReturnType<typeof archiveFile> {
  try {
    return archiveFile(u, name);
  } catch (e) {
    throw asRefusal(e);
  }
}

function goJson<T>(raw: Buffer, type: Parameters<typeof decode>[1], what: string): T {
  try {
    return JSON.parse(encode(decode(raw, type, { maxBytes: MAX_JSON_BYTES }).value, type)) as T;
  } catch (e) {
    if (e instanceof GoJsonError) throw invalid(`${what} does not decode: ${e.message}`);
    throw e;
  }
}

/** The path a manifest entry names, as the loader joins it to the directory it unpacked into. */
function archivePath(p: string): string {
  // Go's strings are bytes: the tar reader's names are Latin-1 for the same reason.
  const parts: string[] = [];
  for (const s of Buffer.from(p, 'utf8').toString('latin1').split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') parts.pop();
    else parts.push(s);
  }
  return parts.join('/');
}

/** A name and an optional tag, no digest (a loaded name is a tag). */
const REFERENCE = new RegExp(`^(${NAME_PATTERN})(?::(${TAG_PATTERN}))?$`);

function parseName(ref: string): { name: string; tag: string | undefined } {
  const m = REFERENCE.exec(ref);
  if (!m || m[1]!.length > 255) throw invalid(`it names the image ${JSON.stringify(ref)}, which is not a reference dockward can check`);
  return { name: m[1]!, tag: m[2] };
}

/** Where the JSON string starting at `i` (its opening quote) ends, just past its closing quote. */
function stringEnd(text: string, i: number): number {
  let k = i + 1;
  while (k < text.length && text[k] !== '"') k += text[k] === '\\' ? 2 : 1;
  if (k >= text.length) throw invalid('an image config is not valid JSON');
  return k + 1;
}

function jsonString(text: string, from: number, to: number): string {
  try {
    return JSON.parse(text.slice(from, to)) as string;
  } catch {
    throw invalid('an image config is not valid JSON');
  }
}

/**
 * The `io.dockward.*` keys anywhere in a config, with their string values. Labels sit under
 * `config.Labels` in whatever case Go's decoder folds, repeated keys merged (and the legacy
 * layout re-encodes the config before it is decoded): every object key of the document is looked
 * at, repeated ones too, so no spelling or order of the JSON hides one.
 */
function* reservedKeys(raw: Buffer): Generator<[string, string | undefined]> {
  const text = raw.toString('utf8');
  const ws = (j: number) => {
    while (text[j] === ' ' || text[j] === '\t' || text[j] === '\n' || text[j] === '\r') j++;
    return j;
  };
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '"') {
      i++;
      continue;
    }
    const end = stringEnd(text, i);
    let j = ws(end);
    if (text[j] === ':') {
      const key = jsonString(text, i, end);
      j = ws(j + 1);
      if (key.startsWith(RESERVED_PREFIX)) yield [key, text[j] === '"' ? jsonString(text, j, stringEnd(text, j)) : undefined];
    }
    i = end;
  }
}

function checkLabels(owner: string, config: Buffer, path: string): void {
  if (config.length > MAX_JSON_BYTES) throw invalid(`the image config ${JSON.stringify(path)} is over ${MAX_JSON_BYTES} bytes`);
  for (const [key, value] of reservedKeys(config)) {
    if (key === OWNER_LABEL && value === owner) continue;
    throw new OwnershipRefusal(403, 'DW_OWNER_LABEL', `dockward: the image config ${path} names the label ${JSON.stringify(key)}: labels under ${RESERVED_PREFIX} are set by the gateway only`);
  }
}

async function usesContainerdStore(cache: OwnershipCache): Promise<boolean> {
  const info = await engineJson<{ DriverStatus?: [string, string][] | null }>({ socketPath: cache.socketPath }, 'GET', '/info');
  return (info.DriverStatus ?? []).some(([k, v]) => k === 'driver-type' && v.startsWith('io.containerd.snapshotter'));
}

/** Throws the refusal (OwnershipRefusal) for a `docker load` archive tenant `owner` may not load. */
export async function checkLoadArchive(cache: OwnershipCache, owner: string, file: string): Promise<void> {
  const compression = await compressionOf(file).catch((e: unknown) => {
    throw asRefusal(e);
  });
  // First reading: the top-level files always, small ones while the budget lasts (configs are
  // named only in manifest.json, at the end of what `docker save` writes).
  let u = await unpack(file, compression, (e, kept) => {
    if (TOP_FILES.has(e.name)) {
      if (e.size > MAX_JSON_BYTES) throw invalid(`${e.name} is over ${MAX_JSON_BYTES} bytes`);
      return true;
    }
    return e.size <= SMALL_FILE && kept + e.size <= METADATA_BUDGET;
  });
  if ((u.files.has('oci-layout') || u.notFiles.has('oci-layout')) && (await usesContainerdStore(cache))) {
    throw invalid('it is an OCI layout (oci-layout), which dockerd with the containerd image store loads by its index.json; dockward does not check those yet');
  }
  const manifest = fileIn(u, 'manifest.json');
  const names: string[] = [];
  let configs: string[];
  if (manifest !== undefined) {
    const items = goJson<{ Config: string; RepoTags: string[] | null }[] | null>(manifest as Buffer, MANIFEST, 'manifest.json') ?? [];
    for (const item of items) for (const t of item.RepoTags ?? []) names.push(tagged(t));
    configs = items.map((i) => archivePath(i.Config));
  } else {
    const repositories = fileIn(u, 'repositories');
    if (repositories !== undefined) {
      const repos = goJson<Record<string, Record<string, string> | null> | null>(repositories as Buffer, REPOSITORIES, 'repositories') ?? {};
      for (const [repo, tags] of Object.entries(repos)) for (const tag of Object.keys(tags ?? {})) names.push(tagged(`${parseName(repo).name}:${tag}`));
    }
    // Every top-level directory is loaded as an image, named or not.
    configs = [...u.topDirs].map((d) => `${d}/json`);
  }
  if (configs.some((c) => fileIn(u, c) === 'not-kept')) {
    const wanted = new Set([...configs, ...TOP_FILES]);
    u = await unpack(file, compression, (e, kept) => {
      if (!wanted.has(e.name)) return false;
      if (kept + e.size > METADATA_BUDGET) throw invalid(`its image configs and manifests are over ${METADATA_BUDGET} bytes in all`);
      return true;
    });
  }
  await refuseOthersNames(cache, owner, names);
  for (const c of configs) {
    const config = fileIn(u, c);
    // A config the archive does not hold makes no image: dockerd stops there.
    if (config !== undefined) checkLabels(owner, config as Buffer, c);
  }
}

/** A RepoTags entry as the loader takes it: a reference with a tag. */
function tagged(ref: string): string {
  const { name, tag } = parseName(ref);
  if (tag === undefined) throw invalid(`it names the image ${JSON.stringify(ref)} without a tag`);
  return `${name}:${tag}`;
}
