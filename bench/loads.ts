/**
 * The loads the gateway is measured under, shared by the gateway bench (rates, MB/s, CPU from
 * /proc) and the profile bench (the same loads under V8's CPU profiler): keep-alive request
 * floods with autocannon, and archive and log streams over one connection, with the containers
 * and the archive they need made once per stack.
 */
import autocannon from 'autocannon';
import http from 'node:http';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { engineJson } from '../src/engine/engine-client.js';
import { TEST_IMAGE } from '../test/harness/engine.js';
import { writeRandomFile } from './random-file.js';
import type { Stack, Target, TlsClient } from './stack.js';

export const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
export const BIG_MB = Number(process.env.BENCH_ARCHIVE_MB ?? 200);
export const LOG_MB = Number(process.env.BENCH_LOG_MB ?? 100);

function acOptions(t: Target, tls: TlsClient): Partial<autocannon.Options> {
  return 'socketPath' in t.ep ? { socketPath: t.ep.socketPath } : { tlsOptions: tls };
}

function baseUrl(t: Target): string {
  return 'socketPath' in t.ep ? 'http://docker' : `https://127.0.0.1:${t.ep.port}`;
}

/** `connections` keep-alive connections sending GET `path` back to back for `seconds`. */
export function flood(stack: Stack, t: Target, path: string, connections: number, seconds = SECONDS): Promise<autocannon.Result> {
  return autocannon({ ...acOptions(t, stack.tlsClient), url: `${baseUrl(t)}${path}`, connections, duration: seconds, timeout: 10 } as autocannon.Options);
}

export function request(t: Target, tls: TlsClient, method: string, path: string, agent: http.Agent | false = false): http.ClientRequest {
  const ep = t.ep;
  const common = { method, path, agent, headers: { host: 'docker' } };
  return 'socketPath' in ep ? http.request({ ...common, socketPath: ep.socketPath }) : https.request({ ...common, host: ep.host, port: ep.port, ...tls });
}

/** Streams a request body (a file, or none) and the response; MB/s over the bytes that moved. */
function transfer(stack: Stack, t: Target, method: string, path: string, body?: { file: string; mb: number }): Promise<{ mbps: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(t, stack.tlsClient, method, path);
    req.setTimeout(300_000, () => req.destroy(new Error(`${method} ${path} via ${t.name}: nothing moved for 300 s`)));
    let bytes = 0;
    req.on('response', (res) => {
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => {
        if ((res.statusCode ?? 500) >= 300) return reject(new Error(`${method} ${path}: ${res.statusCode}`));
        const moved = body ? body.mb * 1e6 : bytes;
        resolve({ mbps: moved / 1e6 / ((performance.now() - started) / 1000) });
      });
    });
    req.on('error', reject);
    if (body) {
      req.setHeader('content-type', 'application/x-tar');
      createReadStream(body.file).pipe(req);
    } else req.end();
  });
}

/** Containers named bench0…bench9 (bench0 running) for `/containers/json?all=1` to list and the archives to go into. */
const seeded = new WeakSet<Stack>();
export async function seedContainers(stack: Stack): Promise<void> {
  if (seeded.has(stack)) return;
  const direct = stack.targets[0]!.ep;
  for (let i = 0; i < 10; i++) {
    const c = await engineJson<{ Id: string }>(direct, 'POST', `/containers/create?name=bench${i}`, { Image: TEST_IMAGE, Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'none' } });
    if (i === 0) await engineJson(direct, 'POST', `/containers/${c.Id}/start`);
  }
  seeded.add(stack);
}

/** A stopped container whose log is LOG_MB of 100-byte lines, which dockerd sends one HTTP chunk each. */
const loggers = new WeakMap<Stack, string>();
async function loggerContainer(stack: Stack): Promise<string> {
  const known = loggers.get(stack);
  if (known) return known;
  const direct = stack.targets[0]!.ep;
  const logger = await engineJson<{ Id: string }>(direct, 'POST', '/containers/create?name=logger', {
    Image: TEST_IMAGE,
    Cmd: ['sh', '-c', `yes 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456 | head -c ${LOG_MB * 1_000_000}`],
    HostConfig: { NetworkMode: 'none' },
  });
  await engineJson(direct, 'POST', `/containers/${logger.Id}/start`);
  await engineJson(direct, 'POST', `/containers/${logger.Id}/wait`);
  loggers.set(stack, logger.Id);
  return logger.Id;
}

export interface StreamLoad {
  name: string;
  /** MB relayed by one run. */
  mb: number;
  run(t: Target): Promise<{ mbps: number }>;
}

/**
 * The streams, in the order they must run (the download fetches what the upload put): a
 * BIG_MB tar of random bytes (nothing along the way can compress it) into bench0 and back out,
 * and the logger's LOG_MB of logs. The tar exists while `f` runs.
 */
export async function withStreams<T>(stack: Stack, f: (loads: StreamLoad[]) => Promise<T>): Promise<T> {
  await seedContainers(stack);
  const logger = await loggerContainer(stack);
  const bigDir = join(stack.dir, 'big');
  await mkdir(bigDir);
  await writeRandomFile(join(bigDir, 'big.bin'), BIG_MB);
  const tar = join(stack.dir, 'big.tar');
  execFileSync('tar', ['-C', bigDir, '-cf', tar, 'big.bin']);
  await rm(bigDir, { recursive: true });
  try {
    return await f([
      { name: `archive upload ${BIG_MB} MB`, mb: BIG_MB, run: (t) => transfer(stack, t, 'PUT', '/containers/bench0/archive?path=/tmp', { file: tar, mb: BIG_MB }) },
      { name: `archive download ${BIG_MB} MB`, mb: BIG_MB, run: (t) => transfer(stack, t, 'GET', '/containers/bench0/archive?path=/tmp/big.bin') },
      { name: `logs ${LOG_MB} MB`, mb: LOG_MB, run: (t) => transfer(stack, t, 'GET', `/containers/${logger}/logs?stdout=1`) },
    ]);
  } finally {
    await rm(tar);
  }
}
