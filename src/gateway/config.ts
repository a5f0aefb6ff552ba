/**
 * Gateway configuration: a YAML file (`--config FILE`) and flags for the common cases, merged
 * into GatewayOptions. Flags add listeners and override the file's scalar settings.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isIP } from 'node:net';
import { defaultPolicy, loadPolicyFile } from '../policy/index.js';
import { resolvePkiDir } from '../pki/index.js';
import { parseYamlConfig, type YamlConfig } from '../util/yaml-config.js';
import { UsageError } from '../util/errors.js';
import type { ListenerSpec } from './listeners.js';
import { DEFAULT_LIMITS, type GatewayOptions } from './server.js';
import { tlsFilesFromPki, type TlsFiles } from './tls-context.js';
import type { AcceptEncodingMode } from './wire.js';

export interface GatewayFlags {
  config?: string;
  listen?: string[];
  unix?: string;
  identity?: string;
  unixMode?: string;
  unixOwner?: string;
  unixGroup?: string;
  policy?: string;
  dockerSocket?: string;
  pki?: string;
  auditLog?: string;
  acceptEncoding?: string;
}

interface FileListener {
  tcp?: string;
  tls?: { pki?: string; ca?: string; cert?: string; key?: string; crl?: string };
  unix?: string;
  identity?: string;
  mode?: string;
  owner?: number;
  group?: number;
}

interface FileConfig {
  dockerSocket?: string;
  listeners?: FileListener[];
  policy?: string;
  auditLog?: string;
  acceptEncoding?: AcceptEncodingMode;
  timeouts?: { handshakeSeconds?: number; headersSeconds?: number; requestSeconds?: number; keepAliveSeconds?: number };
  maxConnections?: number;
  maxHandshakesPerAddress?: number;
  maxConnectionsPerIdentity?: number;
  maxConnectionsPerCertificate?: number;
  maxStreamsPerIdentity?: number;
  maxStreamsPerCertificate?: number;
  maxLoadBytes?: number;
  spoolDir?: string;
}

/** Limits given as plain counts in the file, with the same name as in ServerLimits. */
const COUNT_LIMITS = [
  'maxConnections',
  'maxHandshakesPerAddress',
  'maxConnectionsPerIdentity',
  'maxConnectionsPerCertificate',
  'maxStreamsPerIdentity',
  'maxStreamsPerCertificate',
] as const;

const path = { type: 'string', minLength: 1 } as const;
const seconds = { type: 'integer', minimum: 1, maximum: 86400 } as const;
const id = { type: 'integer', minimum: 0, maximum: 4294967294 } as const;
const count = { type: 'integer', minimum: 1, maximum: 100000 } as const;

export const GATEWAY_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    dockerSocket: path,
    listeners: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          tcp: { type: 'string', minLength: 1 },
          tls: {
            type: 'object',
            additionalProperties: false,
            properties: { pki: path, ca: path, cert: path, key: path, crl: path },
          },
          unix: path,
          identity: { type: 'string', minLength: 1 },
          mode: { type: 'string', pattern: '^0?[0-7]{3}$' },
          owner: id,
          group: id,
        },
      },
    },
    policy: path,
    auditLog: path,
    acceptEncoding: { enum: ['strip', 'forward'] },
    timeouts: {
      type: 'object',
      additionalProperties: false,
      properties: { handshakeSeconds: seconds, headersSeconds: seconds, requestSeconds: seconds, keepAliveSeconds: seconds },
    },
    ...Object.fromEntries(COUNT_LIMITS.map((k) => [k, count])),
    maxLoadBytes: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    spoolDir: path,
  },
} as const;

/** `[tcp://]HOST:PORT`, with `[v6]:PORT` for IPv6. */
export function parseListenAddress(text: string): { host: string; port: number } {
  const m = /^(?:tcp:\/\/)?(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`invalid listen address "${text}"`, 'use [tcp://]HOST:PORT, e.g. 127.0.0.1:2376 or [::1]:2376');
  const host = m[1] ?? m[2]!;
  if (m[1] && isIP(host) !== 6) throw new UsageError(`invalid IPv6 address in "${text}"`);
  return { host, port };
}

/** DOCKER_HOST only when it names a Unix socket: a tcp:// value may well point at this gateway. */
export function defaultDockerSocket(): string {
  const h = process.env.DOCKER_HOST;
  return h?.startsWith('unix://') ? h.slice('unix://'.length) : '/var/run/docker.sock';
}

export function parseMode(text: string): number {
  if (!/^0?[0-7]{3}$/.test(text)) throw new UsageError(`invalid socket mode "${text}"`, 'give octal permissions such as 0660');
  return parseInt(text, 8);
}

function parseId(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`invalid ${what} "${text}"`, `give a numeric ${what}`);
  return Number(text);
}

async function readConfig(file: string): Promise<{ cfg: FileConfig; listeners: ListenerSpec[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the gateway config ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const parsed: YamlConfig<FileConfig> = parseYamlConfig<FileConfig>(text, GATEWAY_CONFIG_SCHEMA, file);
  const cfg = parsed.value;
  // Fair share follows a smaller maxConnections down, and never reaches it.
  const total = cfg.maxConnections ?? DEFAULT_LIMITS.maxConnections;
  cfg.maxConnectionsPerIdentity ??= cfg.maxConnections && Math.max(1, Math.floor(cfg.maxConnections / 4));
  cfg.maxConnectionsPerCertificate ??= cfg.maxConnections && Math.max(1, Math.floor(cfg.maxConnections / 8));
  const perIdentity = cfg.maxConnectionsPerIdentity ?? DEFAULT_LIMITS.maxConnectionsPerIdentity;
  if (total > 1 && perIdentity >= total) {
    parsed.fail(['maxConnectionsPerIdentity'], `"maxConnectionsPerIdentity" must be below maxConnections (${total}), or one identity can take every connection`);
  }
  const base = dirname(resolve(file));
  const rel = (p: string) => resolve(base, p);
  for (const k of ['dockerSocket', 'policy', 'spoolDir'] as const) if (cfg[k]) cfg[k] = rel(cfg[k]);
  if (cfg.auditLog && cfg.auditLog !== '-') cfg.auditLog = rel(cfg.auditLog);
  const listeners = (cfg.listeners ?? []).map((l, i): ListenerSpec => {
    const at = ['listeners', i];
    if ((l.tcp === undefined) === (l.unix === undefined)) parsed.fail(at, 'a listener needs exactly one of "tcp" or "unix"');
    if (l.tcp !== undefined) {
      for (const k of ['identity', 'mode', 'owner', 'group'] as const) if (l[k] !== undefined) parsed.fail([...at, k], `"${k}" belongs to unix listeners`);
      let addr;
      try {
        addr = parseListenAddress(l.tcp);
      } catch (e) {
        parsed.fail([...at, 'tcp'], (e as Error).message);
      }
      const t = l.tls;
      if (!t) parsed.fail(at, 'a tcp listener needs "tls" (pki: DIR, or ca, cert, key and optionally crl)');
      let tls: TlsFiles;
      if (t.pki !== undefined) {
        if (t.ca ?? t.cert ?? t.key ?? t.crl) parsed.fail([...at, 'tls'], 'give either "pki" or the ca/cert/key/crl files, not both');
        tls = tlsFilesFromPki(rel(t.pki));
      } else {
        if (!t.ca || !t.cert || !t.key) parsed.fail([...at, 'tls'], 'needs "ca", "cert" and "key" (or "pki")');
        tls = { ca: rel(t.ca), cert: rel(t.cert), key: rel(t.key), ...(t.crl ? { crl: rel(t.crl) } : {}) };
      }
      return { kind: 'tcp', ...addr, tls };
    }
    if (l.tls !== undefined) parsed.fail([...at, 'tls'], '"tls" belongs to tcp listeners');
    if (!l.identity) parsed.fail(at, 'a unix listener needs "identity" (the name the policy knows it by)');
    return { kind: 'unix', path: rel(l.unix!), identity: l.identity, mode: parseMode(l.mode ?? '0660'), uid: l.owner, gid: l.group };
  });
  return { cfg, listeners };
}

export async function resolveGatewayOptions(flags: GatewayFlags): Promise<GatewayOptions> {
  const file = flags.config ? await readConfig(flags.config) : undefined;
  const cfg = file?.cfg ?? {};
  const listeners = [...(file?.listeners ?? [])];
  if (flags.listen?.length) {
    const tls = tlsFilesFromPki(resolvePkiDir(flags.pki));
    for (const l of flags.listen) listeners.push({ kind: 'tcp', ...parseListenAddress(l), tls });
  }
  if (flags.unix) {
    if (!flags.identity) throw new UsageError('--unix needs --identity NAME', 'the identity the policy knows this socket by');
    listeners.push({
      kind: 'unix',
      path: resolve(flags.unix),
      identity: flags.identity,
      mode: parseMode(flags.unixMode ?? '0660'),
      uid: parseId(flags.unixOwner, 'owner uid'),
      gid: parseId(flags.unixGroup, 'group gid'),
    });
  } else if (flags.identity) {
    throw new UsageError('--identity is for --unix listeners', 'TCP identities come from client certificates');
  }
  if (!listeners.length) throw new UsageError('no listener', 'pass --listen HOST:PORT, --unix PATH --identity NAME, or --config FILE');
  const acceptEncoding = flags.acceptEncoding ?? cfg.acceptEncoding ?? 'strip';
  if (acceptEncoding !== 'strip' && acceptEncoding !== 'forward') {
    throw new UsageError(`invalid --accept-encoding "${acceptEncoding}"`, 'use strip or forward');
  }
  const policyFile = flags.policy ? resolve(flags.policy) : cfg.policy;
  const t = cfg.timeouts ?? {};
  return {
    upstreamSocket: flags.dockerSocket ? resolve(flags.dockerSocket) : (cfg.dockerSocket ?? defaultDockerSocket()),
    listeners,
    policy: policyFile ? await loadPolicyFile(policyFile) : defaultPolicy(),
    ...(policyFile ? { policyFile } : {}),
    auditLog: flags.auditLog ?? cfg.auditLog ?? '-',
    acceptEncoding,
    ...(cfg.maxLoadBytes ? { maxLoadBytes: cfg.maxLoadBytes } : {}),
    ...(cfg.spoolDir ? { spoolDir: cfg.spoolDir } : {}),
    limits: {
      ...(t.handshakeSeconds ? { handshakeTimeoutMs: t.handshakeSeconds * 1000 } : {}),
      ...(t.headersSeconds ? { headersTimeoutMs: t.headersSeconds * 1000 } : {}),
      ...(t.requestSeconds ? { requestTimeoutMs: t.requestSeconds * 1000 } : {}),
      ...(t.keepAliveSeconds ? { keepAliveTimeoutMs: t.keepAliveSeconds * 1000 } : {}),
      ...Object.fromEntries(COUNT_LIMITS.filter((k) => cfg[k]).map((k) => [k, cfg[k]])),
    },
  };
}
