/**
 * The gateway under abuse at the connection level: an authenticated identity that opens more
 * connections and streams than its share, silent sockets and refused handshakes from one address.
 * Whoever else connects keeps working, and the audit log says what happened in a bounded size.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { FULL_LINES } from '../../src/gateway/refusal-log.js';
import { engineSkipReason, runDocker } from '../harness/engine.js';
import { clientTls, readAuditFile, startGatewayFixture, startTcpGateway, until, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();

describe('the gateway under abuse', { skip, timeout: 300_000 }, () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture();
  });
  after(async () => f?.stop());

  /** Connects as `opts` and sends `request`; resolves with the socket and the first bytes of the answer. */
  function ask(opts: tls.ConnectionOptions, request: string): Promise<{ socket: tls.TLSSocket; answer: string }> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect(opts, () => socket.write(request));
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer to ${request.split('\r\n')[0]}`));
      }, 20_000);
      socket.once('data', (d: Buffer) => {
        clearTimeout(timer);
        resolve({ socket, answer: d.toString('latin1') });
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once('close', () => {
        clearTimeout(timer);
        reject(new Error(`closed without an answer to ${request.split('\r\n')[0]}`));
      });
    });
  }

  /** A TCP connection that never starts its TLS handshake. */
  function silent(port: number): Promise<net.Socket> {
    return new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => resolve(c));
      c.on('error', () => resolve(c));
    });
  }

  async function adminWorks(port: number): Promise<void> {
    for (const args of [['version', '--format', '{{.Server.APIVersion}}'], ['ps']]) {
      const r = await runDocker(args, {
        env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: f.clientDir('admin') },
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 0, `docker ${args[0]} as admin: ${r.stderr}`);
    }
  }

  it("keeps one identity's connections and streams to its share, naming the limit, and the admin gets in", async () => {
    const auditFile = join(f.dir, 'fair-share-audit.log');
    const gw = await startTcpGateway(f, auditFile, { maxConnections: 40, maxConnectionsPerIdentity: 12, maxStreamsPerIdentity: 6 });
    const port = gw.listeners[0]!.port!;
    const reader = { ...(await clientTls(f, 'reader')), port };
    const held: tls.TLSSocket[] = [];
    const events = `GET ${f.api}/events HTTP/1.1\r\nHost: x\r\n\r\n`;
    const ping = 'GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n';
    try {
      for (let i = 0; i < 6; i++) {
        const s = await ask(reader, events);
        held.push(s.socket);
        assert.match(s.answer, /^HTTP\/1.1 200 /, s.answer);
      }
      const overStreams = await ask(reader, events);
      held.push(overStreams.socket);
      assert.match(overStreams.answer, /^HTTP\/1.1 429 [^]*maxStreamsPerIdentity/, overStreams.answer);
      // Six streams and six idle keep-alive connections: the identity's twelve.
      await until('the refused stream to give its connection back', () => overStreams.socket.destroyed || overStreams.socket.readableEnded, 5000);
      for (let i = 0; i < 6; i++) {
        const s = await ask(reader, ping);
        held.push(s.socket);
        assert.match(s.answer, /^HTTP\/1.1 200 /, s.answer);
      }
      const overConnections = await ask(reader, ping);
      held.push(overConnections.socket);
      assert.match(overConnections.answer, /^HTTP\/1.1 403 [^]*identity \\"reader\\" already holds 12 connections[^]*maxConnectionsPerIdentity/, overConnections.answer);
      // More than the gateway's maxConnections from the same identity at once: all refused, none held.
      const flood = await Promise.allSettled(Array.from({ length: 40 }, () => ask(reader, events)));
      for (const r of flood) if (r.status === 'fulfilled') held.push(r.value.socket);
      assert.ok(
        flood.every((r) => r.status === 'rejected' || !/^HTTP\/1.1 200 /.test(r.value.answer)),
        'a connection over the identity share was served',
      );
      await adminWorks(port);
    } finally {
      for (const s of held) s.destroy();
      await gw.close(100);
    }
    const lines = await readAuditFile(auditFile);
    const streams = lines.filter((x) => x.status === 429);
    assert.ok(streams.length >= 1 && streams.every((x) => x.code === 'DW_LIMIT_STREAMS' && x.identity === 'reader' && /maxStreamsPerIdentity/.test(x.error ?? '')), JSON.stringify(streams));
    const connections = lines.filter((x) => x.decision === 'refused' && /maxConnectionsPerIdentity/.test(x.error ?? ''));
    assert.ok(connections.length >= 1 && connections.every((x) => x.cn === 'reader' && x.serial && /^127\.0\.0\.1(:\d+)?$/.test(x.remote)), JSON.stringify(connections));
    assert.ok(lines.some((x) => x.identity === 'admin' && x.decision === 'allow' && x.path?.endsWith('/containers/json')), 'no audit line of the admin');
  });

  it("keeps one certificate's connections to its share, naming the certificate", async () => {
    const auditFile = join(f.dir, 'cert-share-audit.log');
    const gw = await startTcpGateway(f, auditFile, { maxConnectionsPerCertificate: 3 });
    const admin = { ...(await clientTls(f, 'admin')), port: gw.listeners[0]!.port! };
    const held: tls.TLSSocket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const s = await ask(admin, 'GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n');
        held.push(s.socket);
        assert.match(s.answer, /^HTTP\/1.1 200 /, s.answer);
      }
      const over = await ask(admin, 'GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n');
      held.push(over.socket);
      assert.match(over.answer, /^HTTP\/1.1 403 [^]*the certificate with serial [0-9a-f]+ already holds 3 connections[^]*maxConnectionsPerCertificate/, over.answer);
    } finally {
      for (const s of held) s.destroy();
      await gw.close(100);
    }
    const lines = await readAuditFile(auditFile);
    assert.ok(lines.some((x) => x.decision === 'refused' && x.cn === 'admin' && /maxConnectionsPerCertificate/.test(x.error ?? '')), JSON.stringify(lines));
  });

  it('sheds the silent sockets of an address, not the address: with hundreds of them open, the admin there still gets in', async () => {
    const auditFile = join(f.dir, 'lockout-audit.log');
    // Long enough that only shedding, not the deadline, can make room.
    const gw = await startTcpGateway(f, auditFile, { handshakeTimeoutMs: 60_000 });
    const port = gw.listeners[0]!.port!;
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 300; i += 50) sockets.push(...(await Promise.all(Array.from({ length: 50 }, () => silent(port)))));
      await adminWorks(port);
    } finally {
      for (const s of sockets) s.destroy();
      await gw.close(100);
    }
    const lines = await readAuditFile(auditFile);
    const shed = lines.filter((x) => /^(\d+ more refusals? of the same kind from 127\.0\.0\.1 in the last \d+ s: )?shed to make room/.test(x.error ?? ''));
    assert.ok(shed.length >= 1, JSON.stringify(lines.slice(0, 20)));
    // Every shed socket is accounted for, in a handful of lines.
    assert.ok(shed.reduce((n, x) => n + (x.repeated ?? 1), 0) >= 300 - 64, JSON.stringify(shed));
    assert.ok(lines.length < 40, `${lines.length} lines: ${JSON.stringify(lines.slice(0, 20))}`);
  });

  it('audits a connection Node drops past maxConnections', async () => {
    const auditFile = join(f.dir, 'drop-audit.log');
    const gw = await startTcpGateway(f, auditFile, { maxConnections: 3 });
    const port = gw.listeners[0]!.port!;
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) sockets.push(await silent(port));
      const over = await silent(port);
      sockets.push(over);
      await until('the connection over maxConnections to be closed', () => over.destroyed || over.readableEnded, 5000);
    } finally {
      for (const s of sockets) s.destroy();
      await gw.close(100);
    }
    const lines = await readAuditFile(auditFile);
    assert.ok(
      lines.some((x) => x.decision === 'refused' && x.error === 'the gateway holds maxConnections (3) connections' && /^127\.0\.0\.1:\d+$/.test(x.remote)),
      JSON.stringify(lines),
    );
  });

  it('aggregates repeated refusals from one source into counted lines, and says each kind in full once', async () => {
    const auditFile = join(f.dir, 'aggregate-audit.log');
    const gw = await startTcpGateway(f, auditFile);
    const port = gw.listeners[0]!.port!;
    const { cert: _c, key: _k, ...noCert } = { ...(await clientTls(f, 'admin')), port };
    const n = 200;
    try {
      for (let i = 0; i < n; i += 20) {
        await Promise.allSettled(
          Array.from({ length: 20 }, () => ask(noCert, 'GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n').then(({ socket }) => socket.destroy())),
        );
      }
      await adminWorks(port);
    } finally {
      await gw.close(100);
    }
    const lines = await readAuditFile(auditFile);
    const refused = lines.filter((x) => x.decision === 'refused' && /no client certificate/.test(x.error ?? ''));
    assert.equal(refused[0]!.error, 'no client certificate');
    assert.match(refused[0]!.remote, /^127\.0\.0\.1:\d+$/);
    assert.ok(
      refused.every((x) => x.error === 'no client certificate' || /^\d+ more refusals? of the same kind from 127\.0\.0\.1 in the last 60 s: no client certificate$/.test(x.error ?? '')),
      JSON.stringify(refused),
    );
    assert.equal(refused.reduce((sum, x) => sum + (x.repeated ?? 1), 0), n, JSON.stringify(refused));
    // FULL_LINES in full, then one counted line (the gateway's close writes the interval's summary).
    assert.ok(refused.length <= FULL_LINES + 1, JSON.stringify(refused));
  });
});
