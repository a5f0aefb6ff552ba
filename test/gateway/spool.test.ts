import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { BodySpool, type Spooled } from '../../src/gateway/spool.js';

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await once(child, 'exit');
  return child.pid!;
}

/** Sends `body` to a server whose handler spools it, and returns what the spool made of it. */
async function spoolOne(spool: BodySpool, body: string): Promise<Spooled> {
  let result: Promise<Spooled> | undefined;
  const server = http.createServer((req, res) => {
    result = spool.spool(req);
    void result.then(() => res.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/images/load' }, (res) => res.resume().once('end', resolve));
      req.once('error', reject);
      req.end(body);
    });
    return await result!;
  } finally {
    server.close();
  }
}

test('a spool directory left by a gateway that is gone from this host is removed; a running one, its own, another host\'s, and what is not a spool stay', async () => {
  const parent = await mkdtemp(join(tmpdir(), 'dw-spool-'));
  const sleeper = spawn('sleep', ['60']);
  try {
    const gone = await deadPid();
    const dead = `dockward-spool-${gone}@${hostname()}-AbC123`;
    const running = `dockward-spool-${sleeper.pid}@${hostname()}-DeF456`;
    const ours = `dockward-spool-${process.pid}@${hostname()}-GhI789`;
    // A spoolDir shared with another host: its pids say nothing here.
    const otherHost = `dockward-spool-${gone}@not-${hostname()}-JkL012`;
    const unrelated = ['dockward-spool-notapid', `dockward-spool-${gone}-MnO345`, 'something-else'];
    for (const name of [dead, running, ours, otherHost, ...unrelated]) {
      await mkdir(join(parent, name));
      await writeFile(join(parent, name, 'body'), 'x');
    }
    const spool = new BodySpool(parent, 1 << 20);
    const r = await spoolOne(spool, 'the archive');
    assert.ok('file' in r, JSON.stringify(r));
    assert.equal(await readFile(r.file, 'utf8'), 'the archive');
    assert.match(basename(dirname(r.file)), new RegExp(`^dockward-spool-${process.pid}@${hostname()}-`));
    const left = await readdir(parent);
    assert.ok(!left.includes(dead), 'the dead gateway\'s directory is gone');
    for (const name of [running, ours, otherHost, ...unrelated]) assert.ok(left.includes(name), `${name} stays`);
    await spool.close();
    assert.ok(!(await readdir(parent)).includes(basename(dirname(r.file))), 'close() removes its own directory');
  } finally {
    sleeper.kill();
    await rm(parent, { recursive: true, force: true });
  }
});
