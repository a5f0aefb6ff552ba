/**
 * One private dockerd, one PKI and one in-process gateway (mTLS on 127.0.0.1 and a Unix socket)
 * per test file, plus helpers to drive them with the real docker CLI, openssl and raw TLS.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { spawn } from 'node:child_process';
import { initCa, issueClient, issueServer, pkiLayout } from '../../src/pki/index.js';
import { loadPolicyFile } from '../../src/policy/index.js';
import { startGateway, type Gateway } from '../../src/gateway/server.js';
import { tlsFilesFromPki } from '../../src/gateway/tls-context.js';
import type { AuditRecord } from '../../src/gateway/audit-log.js';
import type { ServerLimits } from '../../src/gateway/listeners.js';
import { DOCKER_CLI, runDocker, startTestEngine, type DockerResult, type TestEngine } from '../harness/engine.js';

export const TEST_POLICY = `version: 1
identities:
  - name: admin
    match: { cn: admin }
    roles: [admin]
  - name: reader
    match: { cn: reader }
    roles: [reader]
  - name: victim
    match: { cn: victim }
    roles: [reader]
  - name: sidecar
    match: { listener: sidecar }
    roles: [admin]
  - name: tenant
    match: { cn: tenant }
    roles: [tenant]
  - name: worker
    match: { cn: worker }
    roles: [worker]
  - name: lab
    match: { cn: lab }
    roles: [lab]
roles:
  admin:
    allow: [preset:all]
    unrestricted: true
  reader:
    allow: [preset:read-only]
  tenant:
    allow: [preset:containers, preset:exec, preset:images, preset:volumes, preset:build]
  worker:
    allow: [preset:containers, preset:exec, preset:volumes, preset:networks]
    containers:
      execUsers: ["", nobody, "65534*"]
      maxPids: 256
  lab:
    allow: [preset:containers]
    containers:
      capabilities: [NET_ADMIN, CHOWN, NET_RAW]
      sysctls: ["kernel.*"]
      securityOptions: [label=disable]
      bindMounts: [{ path: /var/tmp, readOnly: true }]
      minOomScoreAdj: -250
`;

/** `scope: own` identities of TENANTS_POLICY (certificates are issued for them in every fixture). */
export const TENANTS = ['alice', 'bob', 'carol'] as const;

/** An admin and three tenants with the ordinary presets and `scope: own`. */
export const TENANTS_POLICY = `version: 1
identities:
  - name: admin
    match: { cn: admin }
    roles: [admin]
${TENANTS.map((t) => `  - name: ${t}\n    match: { cn: ${t} }\n    roles: [tenant]\n`).join('')}roles:
  admin:
    allow: [preset:all]
    unrestricted: true
  tenant:
    allow: [preset:system, preset:containers, preset:exec, preset:images, preset:volumes, preset:networks, preset:build]
    scope: own
    containers: { shareNamespaces: true, volumesFrom: true }
`;

const TENANT_ALLOW = '    allow: [preset:containers, preset:exec, preset:images, preset:volumes, preset:build]\n';

/** TEST_POLICY with more lines (YAML indented under a role, e.g. `    containers: …`) for the tenant's role. */
export function withTenantRules(lines: string): string {
  if (!TEST_POLICY.includes(TENANT_ALLOW)) throw new Error('TEST_POLICY no longer has the tenant role withTenantRules expects');
  return TEST_POLICY.replace(TENANT_ALLOW, TENANT_ALLOW + lines);
}

export interface GatewayFixture {
  engine: TestEngine;
  gateway: Gateway;
  dir: string;
  pki: string;
  port: number;
  /**
   * `/v` + the daemon's own API version, for raw requests: dockerd 29 refuses versions below
   * 1.44, so a hard-coded `/v1.41/` would test the daemon's refusal instead of the gateway.
   */
  api: string;
  unixSocket: string;
  auditPath: string;
  /** The gateway's operational messages (reloads and their failures). */
  logs: string[];
  /** docker CLI through the mTLS listener as client NAME (its bundle in the PKI). */
  docker(client: string, args: string[], opts?: Parameters<typeof runDocker>[1]): Promise<DockerResult>;
  /** docker CLI through the Unix listener (identity "sidecar"). */
  dockerUnix(args: string[], opts?: Parameters<typeof runDocker>[1]): Promise<DockerResult>;
  clientDir(name: string): string;
  /** Runs docker as client NAME until its stdout contains `needle`, then interrupts it. */
  dockerUntil(client: string, args: string[], needle: string, timeoutMs?: number): Promise<string>;
  audit(): Promise<AuditRecord[]>;
  stop(): Promise<void>;
}

/**
 * `policy`: YAML in place of TEST_POLICY (its identities still need the fixture's client names);
 * `daemonArgs`: extra dockerd flags (e.g. `--experimental`).
 */
export async function startGatewayFixture(policy = TEST_POLICY, daemonArgs: string[] = []): Promise<GatewayFixture> {
  const engine = await startTestEngine({ args: daemonArgs });
  const dir = await mkdtemp(join(tmpdir(), 'dw-gw-'));
  try {
    const pki = join(dir, 'pki');
    const quiet = { onWarning: () => undefined };
    await initCa({ dir: pki, ...quiet });
    await issueServer({ dir: pki, hosts: ['localhost'], ips: ['127.0.0.1'], ...quiet });
    for (const name of ['admin', 'reader', 'tenant', 'worker', 'lab', ...TENANTS]) await issueClient({ dir: pki, name, ...quiet });
    const policyPath = join(dir, 'policy.yaml');
    await writeFile(policyPath, policy);
    const unixSocket = join(dir, 'gw.sock');
    const logs: string[] = [];
    const auditPath = join(dir, 'audit.log');
    const gateway = await startGateway({
      upstreamSocket: engine.socketPath,
      listeners: [
        { kind: 'tcp', host: '127.0.0.1', port: 0, tls: tlsFilesFromPki(pki) },
        { kind: 'unix', path: unixSocket, identity: 'sidecar', mode: 0o660 },
      ],
      policy: await loadPolicyFile(policyPath),
      policyFile: policyPath,
      auditLog: auditPath,
      log: (line) => logs.push(line),
    });
    const port = gateway.listeners[0]!.port!;
    const clientDir = (name: string) => pkiLayout(pki).clientDir(name);
    return {
      engine,
      gateway,
      dir,
      pki,
      port,
      api: `/v${gateway.apiVersion}`,
      unixSocket,
      auditPath,
      logs,
      clientDir,
      docker: (client, args, opts = {}) =>
        runDocker(args, {
          ...opts,
          env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: clientDir(client), ...(opts.env ?? {}) },
        }),
      dockerUntil: (client, args, needle, timeoutMs = 30_000) =>
        new Promise((resolve, reject) => {
          const child = spawn(DOCKER_CLI, args, {
            env: {
              PATH: process.env.PATH ?? '/usr/bin:/bin',
              HOME: dir,
              DOCKER_CONFIG: join(dir, 'docker-config'),
              DOCKER_HOST: `tcp://127.0.0.1:${port}`,
              DOCKER_TLS_VERIFY: '1',
              DOCKER_CERT_PATH: clientDir(client),
            },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          let err = '';
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`docker ${args.join(' ')}: no "${needle}" within ${timeoutMs} ms; stdout: ${out} stderr: ${err}`));
          }, timeoutMs);
          child.stderr.on('data', (c: Buffer) => (err += c.toString()));
          child.stdout.on('data', (c: Buffer) => {
            out += c.toString();
            if (out.includes(needle)) {
              clearTimeout(timer);
              child.kill('SIGINT');
              resolve(out);
            }
          });
          child.on('error', reject);
        }),
      dockerUnix: (args, opts) => runDocker(['-H', `unix://${unixSocket}`, ...args], opts),
      audit: () => readAuditFile(auditPath),
      stop: async () => {
        await gateway.close(1000);
        await engine.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await engine.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** The records of an audit log file. */
export async function readAuditFile(path: string): Promise<AuditRecord[]> {
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditRecord);
}

/** A gateway of its own on a TCP port, with the fixture's PKI and policy, for limits the fixture's gateway does not have. */
export async function startTcpGateway(f: GatewayFixture, auditLog: string, limits: Partial<ServerLimits> = {}, log: (line: string) => void = () => undefined): Promise<Gateway> {
  return startGateway({
    upstreamSocket: f.engine.socketPath,
    listeners: [{ kind: 'tcp', host: '127.0.0.1', port: 0, tls: tlsFilesFromPki(f.pki) }],
    policy: await loadPolicyFile(join(f.dir, 'policy.yaml')),
    auditLog,
    limits,
    log,
  });
}

/**
 * Removes every container and network of the fixture's daemon, for tests that create networks:
 * a network left behind keeps its bridge (and one of the host's address pools) after dockerd stops.
 */
export async function removeContainersAndNetworks(f: GatewayFixture): Promise<void> {
  const ids = (await f.engine.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
  if (ids.length) await f.engine.docker(['rm', '-f', ...ids]);
  await f.engine.docker(['network', 'prune', '-f']);
}

/** Polls `cond` every 100 ms until it holds, or fails naming `what` after `ms`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Options for a raw TLS connection as client NAME (its cert and key from the fixture's PKI). */
export async function clientTls(f: GatewayFixture, name: string): Promise<tls.ConnectionOptions> {
  const d = f.clientDir(name);
  return {
    host: '127.0.0.1',
    port: f.port,
    ca: await readFile(join(d, 'ca.pem')),
    cert: await readFile(join(d, 'cert.pem')),
    key: await readFile(join(d, 'key.pem')),
    servername: 'localhost',
  };
}

/** How long rawExchange waits for the first byte of an answer: a loaded machine is slow, not silent. */
const FIRST_ANSWER_MS = 15_000;

/**
 * Sends raw bytes over mTLS and returns everything the gateway answered until it closed or went
 * quiet for `quietMs` after its last bytes (keep-alive connections stay open after the last answer).
 */
export function rawExchange(opts: tls.ConnectionOptions, payload: string | Buffer, quietMs = 1500): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    // The handshake and the first answer are not "quiet": only the silence after an answer ends it.
    let timer = setTimeout(() => s.destroy(), FIRST_ANSWER_MS);
    const s = tls.connect(opts, () => {
      s.write(payload);
      clearTimeout(timer);
      timer = setTimeout(() => s.destroy(), Math.max(quietMs, FIRST_ANSWER_MS));
    });
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      clearTimeout(timer);
      timer = setTimeout(() => s.destroy(), quietMs);
    });
    s.on('error', (e) => (chunks.length ? undefined : reject(e)));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

/**
 * A raw JSON POST to `target` as client NAME, framed by Content-Length or (chunked) by
 * Transfer-Encoding; returns the whole answer as text. It asks to close the connection after
 * the answer, so the quiet period is only a bound for a daemon slow to create under load.
 */
export async function rawPost(
  f: GatewayFixture,
  client: string,
  target: string,
  body: string | Buffer,
  opts: { headers?: Record<string, string>; chunked?: boolean } = {},
): Promise<string> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const framing = opts.chunked ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': String(bytes.length) };
  const head = Object.entries({ Host: 'x', 'Content-Type': 'application/json', ...framing, ...opts.headers, Connection: 'close' })
    .map(([k, val]) => `${k}: ${val}\r\n`)
    .join('');
  const payload = opts.chunked ? Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n0\r\n\r\n')]) : bytes;
  return rawExchange(await clientTls(f, client), Buffer.concat([Buffer.from(`POST ${target} HTTP/1.1\r\n${head}\r\n`), payload]), 20_000);
}
