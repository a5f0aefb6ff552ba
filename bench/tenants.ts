/**
 * What ownership costs (issue #12): four `scope: own` tenants with BENCH_TENANT_CONTAINERS
 * containers each (made through the gateway, so they carry their owner), and the same reads as a
 * tenant through the gateway (resolved, filtered, names translated), as the admin through the
 * gateway (no ownership stage), and through dockerd's own TLS: API requests one after another on
 * a kept-alive connection (p50/p99), and whole docker commands (median of BENCH_COMMAND_RUNS).
 */
import https from 'node:https';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { engineJson, engineRequest, type EngineEndpoint } from '../src/engine/engine-client.js';
import { DOCKER_CLI, linkCliPlugins, TEST_IMAGE } from '../test/harness/engine.js';
import { timeDocker, type Command } from './commands.js';
import { BENCH_TENANTS, type Stack, type Target } from './stack.js';
import { fmt, median, quantile, ratio } from './table.js';

const PER_TENANT = Number(process.env.BENCH_TENANT_CONTAINERS ?? 50);
const REQUESTS = Number(process.env.BENCH_TENANT_REQUESTS ?? 200);
const RUNS = Number(process.env.BENCH_COMMAND_RUNS ?? 5);
const LOG_KB = 1000;

/** Who reads, through which target. */
interface Reader {
  label: string;
  target: Target;
  /** The client identity (a TLS client of the bench PKI). */
  as: string;
  /** The container read, as this reader names it. */
  container: string;
}

async function latencies(reader: Reader, stack: Stack, path: string, n: number): Promise<number[]> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const ep: EngineEndpoint = { ...(reader.target.ep as { host: string; port: number }), tls: stack.client(reader.as) };
  const out: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      const res = await engineRequest(ep, 'GET', path.replace('{c}', reader.container), { agent });
      if (res.status !== 200) throw new Error(`GET ${path} as ${reader.as} via ${reader.target.name}: ${res.status} ${res.body.toString().slice(0, 200)}`);
      out.push(performance.now() - started);
    }
  } finally {
    agent.destroy();
  }
  return out;
}

export async function benchTenants(stack: Stack): Promise<void> {
  const gateway = stack.targets.find((t) => t.name === 'gateway')!;
  const tls = stack.targets.find((t) => t.name === 'dockerd-tls')!;
  const asTenant = (t: string): EngineEndpoint => ({ ...(gateway.ep as { host: string; port: number }), tls: stack.client(t) });
  const tenant = BENCH_TENANTS[0];
  console.log(`\nownership: ${BENCH_TENANTS.length} tenants × ${PER_TENANT} containers, made through the gateway`);
  for (const t of BENCH_TENANTS) {
    for (let i = 0; i < PER_TENANT; i++) {
      await engineJson(asTenant(t), 'POST', `/containers/create?name=c${i}`, { Image: TEST_IMAGE, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
    }
  }
  // The container read: running, with LOG_KB of logs, the tenant's own.
  const c = await engineJson<{ Id: string }>(asTenant(tenant), 'POST', '/containers/create?name=reader', {
    Image: TEST_IMAGE,
    Cmd: ['sh', '-c', `yes 0123456789012345678901234567890123456789 | head -c ${LOG_KB * 1000}; sleep 3600`],
    HostConfig: { NetworkMode: 'none' },
  });
  await engineJson(asTenant(tenant), 'POST', `/containers/${c.Id}/start`);
  await new Promise((r) => setTimeout(r, 1000));

  const readers: Reader[] = [
    { label: `${tenant} via gateway`, target: gateway, as: tenant, container: 'reader' },
    { label: 'admin via gateway', target: gateway, as: 'admin', container: `${tenant}.reader` },
    { label: 'admin via dockerd TLS', target: tls, as: 'admin', container: `${tenant}.reader` },
  ];
  const requests: [string, string, number][] = [
    ['GET /containers/json?all=1', '/containers/json?all=1', REQUESTS],
    ['GET /containers/{c}/json', '/containers/{c}/json', REQUESTS],
    [`GET /containers/{c}/logs (${LOG_KB} kB)`, '/containers/{c}/logs?stdout=1', Math.max(10, REQUESTS / 4)],
  ];
  console.log(`API requests in a row on one kept-alive connection: ms p50 / p99`);
  console.log(`${'request'.padEnd(34)} ${readers.map((r) => r.label.padStart(24)).join(' ')}  ${'tenant/tls p50'.padStart(15)} ${'admin-gw/tls p50'.padStart(17)}`);
  for (const [label, path, n] of requests) {
    const p50: number[] = [];
    const cells: string[] = [];
    for (const r of readers) {
      const ms = await latencies(r, stack, path, n);
      p50.push(quantile(ms, 0.5));
      cells.push(`${fmt(quantile(ms, 0.5), 2)} / ${fmt(quantile(ms, 0.99), 2)}`.padStart(24));
    }
    console.log(`${label.padEnd(34)} ${cells.join(' ')}  ${ratio(p50[0]!, p50[2]!).padStart(15)} ${ratio(p50[1]!, p50[2]!).padStart(17)}`);
  }

  const work = await mkdtemp(join(stack.dir, 'tenants-'));
  const configDir = join(work, 'config');
  await mkdir(configDir);
  await linkCliPlugins(configDir);
  const commands: [string, (r: Reader) => string[]][] = [
    [`ps -a (${PER_TENANT * BENCH_TENANTS.length + 1} containers)`, () => ['ps', '-a']],
    ['inspect', (r) => ['inspect', r.container]],
    [`logs (${LOG_KB} kB)`, (r) => ['logs', r.container]],
  ];
  console.log(`docker commands (CLI 28): seconds, median of ${RUNS}, readers round-robin`);
  for (const [label, args] of commands) {
    const runs = readers.map(() => [] as number[]);
    for (let i = 0; i < RUNS; i++) {
      for (const [k, r] of readers.entries()) {
        const cmd: Command = { name: label, args: args(r), as: r.as };
        runs[k]!.push((await timeDocker(DOCKER_CLI, r.target, stack, configDir, cmd)) / 1000);
      }
    }
    const m = runs.map(median);
    console.log(`${label.padEnd(34)} ${m.map((x) => fmt(x, 3).padStart(24)).join(' ')}  ${ratio(m[0]!, m[2]!).padStart(15)} ${ratio(m[1]!, m[2]!).padStart(17)}`);
  }
  await rm(work, { recursive: true, force: true });
}
