/**
 * The gateway against its baselines and its yardstick, all measured in the same run on the same
 * daemon: dockerd's Unix socket (direct), dockerd's own mTLS listener, HAProxy terminating the
 * same mTLS, and the gateway. Request rate and latency (autocannon, keep-alive) with each
 * proxy's CPU per request from /proc (user + system), once with everything sharing the cores and
 * once with the load generator pinned to a core of its own; new-connection cost; archive and
 * log throughput with CPU per MB; and a body-inspected `POST /containers/create`.
 */
import https from 'node:https';
import type http from 'node:http';
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { engineJson } from '../src/engine/engine-client.js';
import { TEST_IMAGE } from '../test/harness/engine.js';
import { flood, request, seedContainers, SECONDS, withStreams, type StreamLoad } from './loads.js';
import { cpuOf, cpuSince, type Cpu } from './proc.js';
import type { Stack, Target, TargetName, TlsClient } from './stack.js';
import { fmt, median, quantile, ratio } from './table.js';

const STREAM_RUNS = Number(process.env.BENCH_STREAM_RUNS ?? 3);
const CREATE_RUNS = Number(process.env.BENCH_CREATE_RUNS ?? 50);
const PROXIES: TargetName[] = ['haproxy', 'node-floor', 'gateway', 'gateway-base'];

/** The gateway's figure over each baseline's, as columns. */
const GATEWAY_OVER: [string, TargetName][] = [
  ['gw/tls', 'dockerd-tls'],
  ['gw/hap', 'haproxy'],
  ['gw/node', 'node-floor'],
];
const overHeader = () => GATEWAY_OVER.map(([label]) => label.padStart(7)).join(' ');
const overCells = (value: (n: TargetName) => number) => GATEWAY_OVER.map(([, n]) => ratio(value('gateway'), value(n)).padStart(7)).join(' ');

interface Load {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  /** CPU of each proxy process (and dockerd) while this target was loaded. */
  cpu: Map<TargetName, Cpu>;
}

/** CPU of the processes that serve `t`: the proxy itself, and dockerd behind it. */
function watched(stack: Stack, t: Target): Target[] {
  return stack.targets.filter((x) => x.pid !== undefined && (x.name === t.name || x.name === 'dockerd-tls'));
}

async function measured<T>(stack: Stack, t: Target, f: () => Promise<T>): Promise<{ value: T; cpu: Map<TargetName, Cpu> }> {
  const procs = watched(stack, t);
  const before = procs.map((p) => cpuOf(p.pid!));
  const value = await f();
  return { value, cpu: new Map(procs.map((p, i) => [p.name, cpuSince(p.pid!, before[i]!)])) };
}

async function load(stack: Stack, t: Target, path: string, connections: number): Promise<Load> {
  const { value: r, cpu } = await measured(stack, t, () => flood(stack, t, path, connections));
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, requests: r.requests.total, errors: r.errors + r.non2xx, cpu };
}

function exchange(req: http.ClientRequest, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    if (body !== undefined) req.setHeader('content-type', 'application/json');
    req.end(body);
  });
}

/** New mTLS connection per `/_ping`: connections/s 16 at a time, and the latency of one alone. */
async function handshakes(stack: Stack, t: Target): Promise<{ rate: number; p50: number; cpuUs: number }> {
  const end = Date.now() + SECONDS * 1000;
  let done = 0;
  const worker = async () => {
    while (Date.now() < end) {
      await exchange(request(t, stack.tlsClient, 'GET', '/_ping'));
      done++;
    }
  };
  const { cpu } = await measured(stack, t, () => Promise.all(Array.from({ length: 16 }, worker)));
  const own = cpu.get(t.name)!;
  const alone: number[] = [];
  for (let i = 0; i < 30; i++) {
    const started = performance.now();
    await exchange(request(t, stack.tlsClient, 'GET', '/_ping'));
    alone.push(performance.now() - started);
  }
  return { rate: done / SECONDS, p50: median(alone), cpuUs: ((own.user + own.system) / done) * 1e6 };
}

/** Seconds of CPU (user + system) per unit, NaN when not measured. */
const cpuPer = (c: Cpu | undefined, n: number) => (c ? (c.user + c.system) / n : NaN);

const us = (c: Cpu | undefined, n: number) => (c ? `${fmt((c.user / n) * 1e6)}+${fmt((c.system / n) * 1e6)}` : '-');

/** Pins this process (the load generator, all its threads) to `cpu`, and the servers to the others. */
function pin(stack: Stack, own: string, others: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', own, String(process.pid)], { stdio: 'ignore' });
  for (const t of stack.targets) if (t.pid) execFileSync('taskset', ['-a', '-p', '-c', others, String(t.pid)], { stdio: 'ignore' });
}

async function rates(stack: Stack, variant: string, short: 'shared' | 'pinned'): Promise<void> {
  const names = stack.targets.map((t) => t.name);
  const present = PROXIES.filter((p) => names.includes(p));
  console.log(`\nrequests/s, ${SECONDS}s per cell, keep-alive, autocannon in the bench process; ${variant}`);
  console.log(
    `${'path'.padEnd(24)} ${'c'.padStart(2)} ${names.map((n) => n.padStart(11)).join(' ')} ${overHeader()}   ` +
      `p50/p99 ms ${names.slice(1).join(' | ')}   CPU µs/req user+sys: ${present.join(', ')}, dockerd (via tls)`,
  );
  for (const path of ['/_ping', '/containers/json?all=1']) {
    for (const c of [1, 16, 64]) {
      const res = new Map<TargetName, Load>();
      for (const t of stack.targets) res.set(t.name, await load(stack, t, path, c));
      const rps = (n: TargetName) => res.get(n)?.rps ?? NaN;
      const errs = [...res.values()].reduce((a, l) => a + l.errors, 0);
      const cpuCols = present.map((p) => us(res.get(p)!.cpu.get(p), res.get(p)!.requests));
      const tls = res.get('dockerd-tls')!;
      if (c === 16) {
        stack.summary.add(`\`${path}\` c=16, requests/s (${short})`, names.map((n) => [n, rps(n)]));
        stack.summary.add(`\`${path}\` c=16, proxy CPU µs per request (${short})`, present.map((p) => [p, cpuPer(res.get(p)!.cpu.get(p), res.get(p)!.requests) * 1e6]));
      }
      console.log(
        `${path.padEnd(24)} ${String(c).padStart(2)} ${names.map((n) => fmt(rps(n)).padStart(11)).join(' ')} ${overCells(rps)}   ` +
          `${names.slice(1).map((n) => `${res.get(n)!.p50}/${res.get(n)!.p99}`).join(' | ')}   ${cpuCols.join(', ')}, ${us(tls.cpu.get('dockerd-tls'), tls.requests)}` +
          (names.includes('gateway-base') ? `   gw/base ${ratio(rps('gateway'), rps('gateway-base'))}` : '') +
          (errs ? `  (${errs} errors/non-2xx)` : ''),
      );
    }
  }
}

/** `POST /containers/create` one at a time: through the gateway as the constrained identity, its body decoded and checked. */
async function inspectedCreate(stack: Stack): Promise<void> {
  const body = JSON.stringify({
    Image: TEST_IMAGE,
    Cmd: ['sleep', '60'],
    Env: ['A=1', 'B=2'],
    Labels: { bench: 'create' },
    HostConfig: { NetworkMode: 'none', PidsLimit: 100, Memory: 64 << 20, CapDrop: ['ALL'], ReadonlyRootfs: true },
  });
  // A gateway is measured as both identities; every other target has one figure for both rows.
  const cases: [string, Target, TlsClient, ('unrestricted' | 'inspected')[]][] = [];
  for (const t of stack.targets) {
    if (t.name === 'direct') continue;
    const gateway = t.name.startsWith('gateway');
    if (gateway) cases.push([`${t.name}, admin (not inspected)`, t, stack.tlsClient, ['unrestricted']]);
    cases.push(gateway ? [`${t.name}, inspected`, t, stack.inspectedClient, ['inspected']] : [t.name, t, stack.tlsClient, ['unrestricted', 'inspected']]);
  }
  const p50 = { unrestricted: new Map<TargetName, number>(), inspected: new Map<TargetName, number>() };
  console.log(`\nPOST /containers/create, ${CREATE_RUNS} one after another on a keep-alive connection (ms; gateway CPU µs per request user+sys)`);
  const rows: string[] = [];
  for (const [label, t, tls, rowsOf] of cases) {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const times: number[] = [];
    const ids: string[] = [];
    const ep = t.ep as { host: string; port: number };
    const before = cpuOf(t.pid!);
    for (let i = 0; i < CREATE_RUNS; i++) {
      const started = performance.now();
      const r = await exchange(https.request({ method: 'POST', host: ep.host, port: ep.port, path: '/containers/create', agent, headers: { host: 'docker' }, ...tls }), body);
      times.push(performance.now() - started);
      if (r.status !== 201) throw new Error(`create via ${label}: ${r.status} ${r.text.trim()}`);
      ids.push((JSON.parse(r.text) as { Id: string }).Id);
    }
    const cpu = cpuSince(t.pid!, before);
    agent.destroy();
    for (const row of rowsOf) p50[row].set(t.name, median(times));
    rows.push(`  ${label.padEnd(40)} p50 ${fmt(median(times), 1).padStart(6)}  p99 ${fmt(quantile(times, 0.99), 1).padStart(6)}${t.name.startsWith('gateway') ? `   gateway CPU ${us(cpu, CREATE_RUNS)}` : ''}`);
    const direct = stack.targets[0]!.ep;
    for (const id of ids) await engineJson(direct, 'DELETE', `/containers/${id}?force=1`);
  }
  for (const r of rows) console.log(r);
  stack.summary.add('`POST /containers/create` p50 ms, the gateway as an unrestricted identity', p50.unrestricted, 1);
  stack.summary.add('`POST /containers/create` p50 ms, the gateway as a constrained identity (body decoded and checked)', p50.inspected, 1);
}

export async function benchGateway(stack: Stack): Promise<void> {
  if (stack.haproxyMissing) console.log(`\nHAProxy left out: ${stack.haproxyMissing}`);
  await seedContainers(stack);
  // JIT warm-up, so the first cell does not measure a cold gateway.
  for (const t of stack.targets) await flood(stack, t, '/_ping', 16, 1);

  await rates(stack, `all processes share the ${cpus().length} CPUs`, 'shared');
  let canPin = cpus().length >= 2;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
  } catch {
    canPin = false;
  }
  if (canPin) {
    const last = cpus().length - 1;
    const rest = last === 1 ? '1' : `1-${last}`;
    pin(stack, '0', rest);
    try {
      await rates(stack, `load generator pinned to CPU 0, dockerd, HAProxy and the gateway to CPU ${rest} (taskset)`, 'pinned');
    } finally {
      pin(stack, `0-${last}`, `0-${last}`);
    }
  } else console.log('\n(pinned variant left out: it needs taskset (util-linux) and 2 CPUs)');

  console.log('\nnew mTLS connection per GET /_ping');
  const connections = new Map<TargetName, { rate: number; p50: number; cpuUs: number }>();
  for (const t of stack.targets.slice(1)) {
    const h = await handshakes(stack, t);
    connections.set(t.name, h);
    console.log(`  ${t.name.padEnd(12)} ${fmt(h.rate).padStart(6)} connections/s (16 at a time), one alone ${fmt(h.p50, 2)} ms (median of 30), its CPU ${fmt(h.cpuUs)} µs per connection`);
  }
  stack.summary.add('new mTLS connection and its `/_ping`, one alone, ms', [...connections].map(([n, h]) => [n, h.p50]), 2);
  stack.summary.add('new mTLS connection and its `/_ping`, CPU µs (dockerd TLS: dockerd\'s)', [...connections].map(([n, h]) => [n, h.cpuUs]));

  await inspectedCreate(stack);

  // Streams vary by ±15% from one run to the next on a shared 2-core machine (the last upload's
  // dirty pages are still being written back, say): each figure is the median of STREAM_RUNS,
  // taken round-robin over the targets after a sync, with each proxy's CPU of its median run.
  type Run = { mbps: number; cpu: Map<TargetName, Cpu> };
  const streamed = async (s: StreamLoad): Promise<Map<TargetName, Run>> => {
    const runs = new Map<Target, Run[]>(stack.targets.map((t) => [t, []]));
    for (let i = 0; i < STREAM_RUNS; i++) {
      for (const t of stack.targets) {
        execFileSync('sync');
        const { value, cpu } = await measured(stack, t, () => s.run(t));
        runs.get(t)!.push({ mbps: value.mbps, cpu });
      }
    }
    return new Map([...runs].map(([t, r]) => [t.name, [...r].sort((a, b) => a.mbps - b.mbps)[r.length >> 1]!]));
  };
  const results = await withStreams(stack, async (loads) => {
    const done: [StreamLoad, Map<TargetName, Run>][] = [];
    for (const s of loads) done.push([s, await streamed(s)]);
    return done;
  });

  const names = stack.targets.map((t) => t.name);
  const present = PROXIES.filter((p) => names.includes(p));
  console.log(`\nMB/s, median of ${STREAM_RUNS}, round-robin   ${names.map((n) => n.padStart(11)).join(' ')} ${overHeader()}   CPU ms/MB user+sys: ${present.join(', ')}`);
  for (const [{ name, mb }, m] of results) {
    const mbps = (n: TargetName) => m.get(n)?.mbps ?? NaN;
    const perMb = present.map((p) => {
      const c = m.get(p)?.cpu.get(p);
      return c ? `${fmt((c.user / mb) * 1000, 2)}+${fmt((c.system / mb) * 1000, 2)}` : '-';
    });
    stack.summary.add(`${name}, MB/s`, names.map((n) => [n, mbps(n)]));
    stack.summary.add(`${name}, proxy CPU ms per MB`, present.map((p) => [p, cpuPer(m.get(p)?.cpu.get(p), mb) * 1000]), 2);
    console.log(`${name.padEnd(39)} ${names.map((n) => fmt(mbps(n)).padStart(11)).join(' ')} ${overCells(mbps)}   ${perMb.join(', ')}${names.includes('gateway-base') ? `   gw/base ${ratio(mbps('gateway'), mbps('gateway-base'))}` : ''}`);
  }
}
