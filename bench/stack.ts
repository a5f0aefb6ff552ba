/**
 * What every gateway measurement runs against, started once per run so each baseline shares the
 * same daemon, certificates and moment: a private dockerd (the engine of DOCKWARD_TEST_ENGINE)
 * with its own mTLS listener, the gateway as a child process (as deployed), HAProxy terminating
 * the same mTLS in front of the same Unix socket, and the Node floor (node-floor.ts) doing so
 * with Node's http and nothing of dockward's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa, issueClient, issueServer, pkiLayout } from '../src/pki/index.js';
import type { PrivateDaemon } from '../src/engine/private-daemon.js';
import type { EngineEndpoint } from '../src/engine/engine-client.js';
import { dockerdTlsArgs, freePort, importTestImage, startEngineDaemon, testEngineInstall } from '../test/harness/engine.js';
import { startHaproxy, type Haproxy } from './haproxy.js';
import { GATEWAY_NODE_FLAGS } from '../src/gateway/node-flags.js';
import { Summary } from './summary.js';

/** This build's dist/, the gateway the bench measures. */
export const BUILD_DIST = join(import.meta.dirname, '../dist');

/** The tenants (`scope: own`) of the ownership bench. */
export const BENCH_TENANTS = ['tenant1', 'tenant2', 'tenant3', 'tenant4'] as const;

/**
 * admin is unrestricted (no body is decoded); `inspected` may only create containers within
 * limits, so each of its creates is decoded as dockerd decodes it and checked: the cost issue #10
 * asks for. The tenants see only their own objects: the cost of ownership (issue #12).
 */
const BENCH_POLICY = `version: 1
identities:
  - name: admin
    match: { cn: admin }
    roles: [admin]
  - name: inspected
    match: { cn: inspected }
    roles: [constrained]
${BENCH_TENANTS.map((t) => `  - name: ${t}\n    match: { cn: ${t} }\n    roles: [tenant]\n`).join('')}roles:
  admin:
    allow: [preset:all]
    unrestricted: true
  constrained:
    allow: [preset:containers]
    containers:
      maxPids: 256
  tenant:
    allow: [preset:system, preset:containers, preset:exec]
    scope: own
`;

export type TargetName = 'direct' | 'dockerd-tls' | 'haproxy' | 'node-floor' | 'gateway' | 'gateway-base';

export interface Target {
  name: TargetName;
  ep: EngineEndpoint;
  /** DOCKER_HOST for the docker CLI. */
  dockerHost: string;
  /** The proxy's process, for its CPU from /proc (none for the direct socket). */
  pid?: number;
}

export interface TlsClient {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  servername: string;
}

export interface Stack {
  dir: string;
  engine: string;
  daemon: PrivateDaemon;
  /** DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem of the admin client. */
  certPath: string;
  tlsClient: TlsClient;
  /** The constrained identity's credentials (its container creates are body-checked). */
  inspectedClient: TlsClient;
  /** DOCKER_CERT_PATH of a client of the PKI (admin, inspected, the tenants). */
  clientCertPath(name: string): string;
  client(name: string): TlsClient;
  targets: Target[];
  /** Why HAProxy is not among the targets, if it is not. */
  haproxyMissing?: string;
  /** The headline figures of the benches run on this stack, printed as one table at the end. */
  summary: Summary;
  /**
   * One more gateway of this build beside the others (same PKI, policy and daemon), with
   * `nodeArgs` for Node after BENCH_GATEWAY_NODE_ARGS: the profile bench's `--cpu-prof`, which
   * writes its profile when the process exits. Its stop() waits for that exit.
   */
  extraGateway(name: string, nodeArgs: string[]): Promise<{ target: Target; stop(): Promise<void> }>;
  stop(): Promise<void>;
}

/**
 * The gateway built at `dist` (a dist/ directory), with the node flags it is deployed with, then BENCH_GATEWAY_NODE_ARGS (e.g.
 * "--cpu-prof --cpu-prof-dir=/tmp/prof") for tuning sessions and the GC probe preloaded: it
 * answers SIGUSR2 with the process's GC totals.
 */
async function startGatewayProcess(dist: string, args: string[], gcFile: string, extraNodeArgs: string[]): Promise<ChildProcess> {
  const main = join(dist, 'cli/main.js');
  const probe = join(import.meta.dirname, 'gc-probe.mjs');
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return startNodeChild('the gateway', ['--import', probe, ...GATEWAY_NODE_FLAGS, ...nodeArgs, ...extraNodeArgs, main, 'gateway', ...args], { DOCKWARD_BENCH_GC_FILE: gcFile }, 'listening on');
}

/** The Node floor (node-floor.ts), with the gateway's node flags. */
function startNodeFloor(port: number, serverDir: string, crl: string, socketPath: string): Promise<ChildProcess> {
  return startNodeChild('the Node floor', ['--import', 'tsx', ...GATEWAY_NODE_FLAGS, join(import.meta.dirname, 'node-floor.ts'), String(port), serverDir, crl, socketPath], {}, 'listening');
}

/** A node process, started once it has written `ready` to stderr. */
async function startNodeChild(what: string, argv: string[], env: Record<string, string>, ready: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${err}`)), 20_000);
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`${what} exited (${code}): ${err}`)));
  });
  // One that never said it was ready is not left running.
  await started.catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  return child;
}

export async function startStack(): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-bench-'));
  let daemon: PrivateDaemon | undefined;
  const gateways: ChildProcess[] = [];
  let haproxy: Haproxy | undefined;
  const stopGateway = async (gateway: ChildProcess) => {
    if (gateway.exitCode === null && gateway.signalCode === null) {
      gateway.kill('SIGTERM');
      await new Promise((r) => gateway.once('exit', r));
    }
  };
  const stop = async () => {
    for (const gateway of gateways) await stopGateway(gateway);
    await haproxy?.stop();
    await daemon?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const pki = join(dir, 'pki');
    const quiet = { onWarning: () => undefined };
    await initCa({ dir: pki, ...quiet });
    await issueServer({ dir: pki, hosts: ['localhost'], ips: ['127.0.0.1'], ...quiet });
    for (const name of ['admin', 'inspected', ...BENCH_TENANTS]) await issueClient({ dir: pki, name, ...quiet });
    await writeFile(join(dir, 'policy.yaml'), BENCH_POLICY);
    const l = pkiLayout(pki);
    const certPath = l.clientDir('admin');
    const client = (name: string): TlsClient => ({
      ca: readFileSync(l.caCert),
      cert: readFileSync(join(l.clientDir(name), 'cert.pem')),
      key: readFileSync(join(l.clientDir(name), 'key.pem')),
      servername: 'localhost',
    });
    const tlsClient = client('admin');
    const dockerdPort = await freePort();
    daemon = await startEngineDaemon({ args: dockerdTlsArgs(l.serverDir, dockerdPort) });
    await importTestImage(daemon.socketPath);
    const gateway = async (dist: string, name: string, nodeArgs: string[] = []): Promise<{ port: number; pid: number; child: ChildProcess }> => {
      const port = await freePort();
      const args = ['--listen', `127.0.0.1:${port}`, '--pki', pki, '--docker-socket', daemon!.socketPath, '--audit-log', join(dir, `${name}.audit.log`), '--policy', join(dir, 'policy.yaml')];
      const child = await startGatewayProcess(dist, args, join(dir, `${name}.gc.json`), nodeArgs);
      gateways.push(child);
      return { port, pid: child.pid!, child };
    };
    const gw = await gateway(BUILD_DIST, 'gateway');
    const tcp = (name: TargetName, port: number, pid?: number): Target => ({
      name,
      ep: { host: '127.0.0.1', port, tls: tlsClient },
      dockerHost: `tcp://127.0.0.1:${port}`,
      pid,
    });
    const targets: Target[] = [
      { name: 'direct', ep: { socketPath: daemon.socketPath }, dockerHost: `unix://${daemon.socketPath}` },
      tcp('dockerd-tls', dockerdPort, daemon.pid),
    ];
    let haproxyMissing: string | undefined;
    try {
      const port = await freePort();
      haproxy = await startHaproxy({ dir, port, serverDir: l.serverDir, socketPath: daemon.socketPath });
      targets.push(tcp('haproxy', port, haproxy.pid));
    } catch (e) {
      haproxyMissing = (e as Error).message;
    }
    const floorPort = await freePort();
    const floor = await startNodeFloor(floorPort, l.serverDir, l.crl, daemon.socketPath);
    gateways.push(floor);
    targets.push(tcp('node-floor', floorPort, floor.pid));
    targets.push(tcp('gateway', gw.port, gw.pid));
    // BENCH_BASELINE_DIST: another build's dist/ (the previous commit, main) measured beside this one.
    const baseline = process.env.BENCH_BASELINE_DIST;
    if (baseline) {
      const base = await gateway(baseline, 'gateway-base');
      targets.push(tcp('gateway-base', base.port, base.pid));
    }
    return {
      dir,
      engine: testEngineInstall().name,
      daemon,
      certPath,
      tlsClient,
      inspectedClient: client('inspected'),
      clientCertPath: (name) => l.clientDir(name),
      client,
      targets,
      haproxyMissing,
      summary: new Summary(),
      extraGateway: async (name, nodeArgs) => {
        const g = await gateway(BUILD_DIST, name, nodeArgs);
        return { target: tcp('gateway', g.port, g.pid), stop: () => stopGateway(g.child) };
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The GC totals the probe in a gateway process reports (see gc-probe.mjs). */
export interface GcTotals {
  count: number;
  ms: number;
  /** Full (mark-compact) collections, included in count and ms. */
  majorCount: number;
  majorMs: number;
}

/** The GC totals of the bench's gateway, or of the extra gateway `name` (process `pid`). */
export async function gatewayGc(stack: Stack, name = 'gateway', pid = stack.targets.find((t) => t.name === 'gateway')!.pid!): Promise<GcTotals | undefined> {
  const file = join(stack.dir, `${name}.gc.json`);
  await rm(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 20));
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as GcTotals;
    } catch {
      // not written yet
    }
  }
  return undefined;
}
