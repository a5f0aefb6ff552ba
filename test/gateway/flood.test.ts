/**
 * Acceptance under a flood, against the real `dockward gateway` process: thousands of connections
 * and streams from one identity, hundreds of silent sockets and refused handshakes from one
 * address. The admin keeps working (on a connection it holds, and from another address), the
 * gateway's memory stays bounded, and the audit log holds a line per outcome, repeated refusals
 * counted, in a bounded size.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import type { AuditRecord } from '../../src/gateway/audit-log.js';
import { FULL_LINES, MAX_REFUSAL_KEYS } from '../../src/gateway/refusal-log.js';
import { DOCKWARD_BIN } from '../harness/cli.js';
import { engineSkipReason, runDocker } from '../harness/engine.js';
import { clientTls, readAuditFile, startGatewayFixture, until, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();

/** The flood, and what the test holds the gateway to (README, "Audit log" and "Fair share"). */
const READER_CONNECTIONS = 2000;
const READER_WAVE = 250;
const SILENT_SOCKETS = 300;
const REFUSED_HANDSHAKES = 500;
const MAX_GATEWAY_RSS_MB = 400;
const MAX_AUDIT_BYTES = 1024 * 1024;

function rssMb(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/^VmRSS:\s+(\d+) kB/m.exec(s)![1]) / 1024);
}

/** Connects and sends `request`; resolves with the first bytes of the answer ('' when closed unanswered). */
function ask(opts: tls.ConnectionOptions, request: string, sockets: tls.TLSSocket[]): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect(opts, () => s.write(request));
    sockets.push(s);
    const timer = setTimeout(() => resolve(''), 30_000);
    s.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(d.toString('latin1'));
    });
    s.on('error', () => undefined);
    s.once('close', () => {
      clearTimeout(timer);
      resolve('');
    });
  });
}

describe('the gateway under a flood', { skip, timeout: 300_000 }, () => {
  let f: GatewayFixture;
  let gw: ChildProcess;
  let port: number;
  let stderr = '';
  const auditFile = () => join(f.dir, 'flood-audit.log');
  before(async () => {
    f = await startGatewayFixture();
    const cfg = join(f.dir, 'flood-gateway.yaml');
    await writeFile(
      cfg,
      `dockerSocket: ${f.engine.socketPath}\nlisteners:\n  - tcp: 127.0.0.1:0\n    tls: { pki: ${f.pki} }\npolicy: ${join(f.dir, 'policy.yaml')}\nauditLog: ${auditFile()}\n`,
    );
    gw = spawn(process.execPath, [DOCKWARD_BIN, 'gateway', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    gw.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    await until('the gateway to listen', () => /listening on tcp:\/\/127\.0\.0\.1:\d+/.test(stderr), 30_000);
    port = Number(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(stderr)![1]);
  });
  after(async () => {
    if (gw && gw.exitCode === null) {
      gw.kill('SIGKILL');
      await new Promise((r) => gw.once('exit', r));
    }
    await f?.stop();
  });

  it('keeps serving the admin, with bounded memory and a bounded audit log', async () => {
    const admin = { ...(await clientTls(f, 'admin')), port };
    const reader = { ...(await clientTls(f, 'reader')), port };
    const { cert: _c, key: _k, ...noCert } = admin;
    // tls.connect takes net's connect options too; its type does not list them.
    const fromOther: tls.ConnectionOptions & net.TcpSocketConnectOpts = { ...admin, localAddress: '127.0.0.2' };
    const ping = 'GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n';
    const events = `GET ${f.api}/events HTTP/1.1\r\nHost: x\r\n\r\n`;
    const adminEnv = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: f.clientDir('admin') };
    assert.equal((await runDocker(['version'], { env: adminEnv })).code, 0);

    // The admin's own connection, authenticated before the flood.
    const held = tls.connect(admin);
    await new Promise<void>((r) => held.once('secureConnect', () => r()));
    const adminAnswers: string[] = [];
    held.on('data', (d: Buffer) => adminAnswers.push(d.toString('latin1')));

    let peakRss = await rssMb(gw.pid!);
    const sampler = setInterval(() => void rssMb(gw.pid!).then((mb) => (peakRss = Math.max(peakRss, mb)), () => undefined), 250);
    const silent: net.Socket[] = [];
    const sockets: tls.TLSSocket[] = [];
    const answers = { reader: new Map<string, number>(), noCert: 0 };
    let flooding = true;
    let adminPings = 0;
    const started = Date.now();
    try {
      const floods = [
        (async () => {
          for (let i = 0; i < SILENT_SOCKETS; i++) {
            const c = net.connect(port, '127.0.0.1');
            c.on('error', () => undefined);
            silent.push(c);
          }
        })(),
        (async () => {
          for (let done = 0; done < READER_CONNECTIONS; done += READER_WAVE) {
            const wave: tls.TLSSocket[] = [];
            const got = await Promise.all(Array.from({ length: READER_WAVE }, () => ask(reader, events, wave)));
            for (const a of got) {
              const status = /^HTTP\/1.1 (\d+)/.exec(a)?.[1] ?? 'none';
              answers.reader.set(status, (answers.reader.get(status) ?? 0) + 1);
            }
            for (const s of wave) s.destroy();
          }
        })(),
        (async () => {
          for (let done = 0; done < REFUSED_HANDSHAKES; done += 50) {
            const wave: tls.TLSSocket[] = [];
            const got = await Promise.all(Array.from({ length: 50 }, () => ask(noCert, ping, wave)));
            answers.noCert += got.filter((a) => /^HTTP\/1.1 403 [^]*no client certificate/.test(a)).length;
            for (const s of wave) s.destroy();
          }
        })(),
      ];
      // The admin, meanwhile: on its connection, and as a new client from another address.
      const adminLoop = (async () => {
        while (flooding) {
          const before = adminAnswers.length;
          held.write(ping);
          await until('the admin ping answer', () => adminAnswers.length > before, 20_000);
          assert.match(adminAnswers.at(-1)!, /^HTTP\/1.1 200 /);
          // A new connection from another address (the flood comes from 127.0.0.1).
          const fresh: tls.TLSSocket[] = [];
          const answer = await ask(fromOther, `GET ${f.api}/containers/json HTTP/1.1\r\nHost: x\r\n\r\n`, fresh);
          for (const s of fresh) s.destroy();
          assert.match(answer, /^HTTP\/1.1 200 /, answer);
          adminPings++;
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      await Promise.all(floods);
      flooding = false;
      await adminLoop;
      assert.ok(adminPings >= 3, `only ${adminPings} admin exchanges during the flood`);
    } finally {
      flooding = false;
      clearInterval(sampler);
      for (const c of silent) c.destroy();
      for (const s of sockets) s.destroy();
      held.destroy();
    }
    const r = await runDocker(['ps'], { env: adminEnv });
    assert.equal(r.code, 0, `docker ps as admin after the flood: ${r.stderr}`);
    const seconds = (Date.now() - started) / 1000;
    assert.ok(peakRss < MAX_GATEWAY_RSS_MB, `the gateway's RSS reached ${peakRss.toFixed(0)} MB`);

    // Stopping flushes the counted refusals.
    gw.kill('SIGTERM');
    await new Promise((r) => gw.once('exit', r));
    const size = (await stat(auditFile())).size;
    const lines = await readAuditFile(auditFile());
    const diag = `${seconds.toFixed(1)} s, peak RSS ${peakRss.toFixed(0)} MB, ${lines.length} lines, ${size} bytes, reader answers ${JSON.stringify([...answers.reader])}, no-cert 403s ${answers.noCert}`;
    process.stderr.write(`flood: ${diag}\n`);
    assert.ok(size < MAX_AUDIT_BYTES, diag);
    // However many connections were refused, their lines are bounded (README, "Audit log").
    const refusedLines = lines.filter((x) => x.decision === 'refused').length;
    assert.ok(refusedLines <= (MAX_REFUSAL_KEYS + 1) * (FULL_LINES + 1), `${refusedLines} refused lines: ${diag}`);
    // Streams within the reader's share were served; the rest refused, naming the limit.
    assert.ok((answers.reader.get('200') ?? 0) > 0 && (answers.reader.get('429') ?? 0) + (answers.reader.get('403') ?? 0) > 0, diag);
    // Every refused handshake that was answered is in the log, once, counted where repeated.
    const count = (pred: (x: AuditRecord) => boolean) => lines.filter(pred).reduce((n, x) => n + (x.repeated ?? 1), 0);
    const noCertLogged = count((x) => x.decision === 'refused' && (x.error ?? '').endsWith('no client certificate'));
    assert.ok(noCertLogged >= answers.noCert && noCertLogged <= REFUSED_HANDSHAKES, `${noCertLogged} no-certificate refusals logged: ${diag}`);
    const streams = lines.filter((x) => x.identity === 'reader' && x.status === 429);
    assert.equal(streams.length, answers.reader.get('429') ?? 0, diag);
    assert.ok(lines.filter((x) => x.identity === 'admin').every((x) => x.decision === 'allow'), diag);
  });
});
