/**
 * Failure modes an operator must not learn about from an incident: an audit log that cannot be
 * written (the gateway must stop serving, not serve unaudited), a CRL that has expired (OpenSSL
 * then refuses every client; the gateway must say why), and refusals Node's HTTP server makes by
 * itself, before any handler of ours runs (they must reach the audit log too), and a revoked
 * certificate whose connections and streams were opened before the revocation.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import net from 'node:net';
import http from 'node:http';
import { issueClient, loadIssuer, pkiLayout, revoke } from '../../src/pki/index.js';
import { buildCrlPem } from '../../src/pki/crl.js';
import { loadPolicyFile } from '../../src/policy/index.js';
import { startGateway } from '../../src/gateway/server.js';
import type { ServerLimits } from '../../src/gateway/listeners.js';
import { tlsFilesFromPki } from '../../src/gateway/tls-context.js';
import { engineSkipReason, runDocker, TEST_IMAGE } from '../harness/engine.js';
import { clientTls, rawExchange, startGatewayFixture, startTcpGateway, until, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();

describe('gateway failure modes', { skip, timeout: 300_000 }, () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture();
  });
  after(async () => f?.stop());

  /** Swaps in an empty CRL made `daysAgo` days ago (valid 30 days from then); returns the one it replaced. */
  async function swapInCrlMadeDaysAgo(daysAgo: number, crlNumber: number): Promise<Buffer> {
    const l = pkiLayout(f.pki);
    const previous = await readFile(l.crl);
    const issuer = await loadIssuer(l, { dir: f.pki, onWarning: () => undefined });
    await replaceCrl(await buildCrlPem(issuer, { certs: [] } as unknown as Parameters<typeof buildCrlPem>[1], crlNumber, new Date(Date.now() - daysAgo * 86_400_000)));
    return previous;
  }

  const tcpGateway = (auditLog: string, limits: Partial<ServerLimits>, log?: (line: string) => void) => startTcpGateway(f, auditLog, limits, log);

  /** A TCP connection that never starts its TLS handshake. */
  function silentConnection(port: number): net.Socket {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => undefined);
    return c;
  }

  async function replaceCrl(pem: string | Buffer): Promise<void> {
    const crl = pkiLayout(f.pki).crl;
    await writeFile(`${crl}.tmp`, pem);
    await rename(`${crl}.tmp`, crl);
  }

  it('refuses every request once the audit log cannot be written, instead of serving unaudited', async () => {
    const logs: string[] = [];
    const sock = join(f.dir, 'no-audit.sock');
    const gw = await startGateway({
      upstreamSocket: f.engine.socketPath,
      listeners: [{ kind: 'unix', path: sock, identity: 'sidecar', mode: 0o600 }],
      policy: await loadPolicyFile(join(f.dir, 'policy.yaml')),
      // Opens fine, every write fails with ENOSPC: a full disk.
      auditLog: '/dev/full',
      log: (line) => logs.push(line),
    });
    try {
      await runDocker(['-H', `unix://${sock}`, 'version']);
      await until('the audit failure to be reported', () => logs.some((l) => l.includes('audit log') && l.includes('ENOSPC')), 10_000);
      const r = await runDocker(['-H', `unix://${sock}`, 'run', '-d', '--name', 'unaudited', '--network', 'none', TEST_IMAGE, 'true']);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /dockward: the audit log cannot be written/);
      const direct = await runDocker(['-H', `unix://${f.engine.socketPath}`, 'ps', '-aq', '--filter', 'name=unaudited']);
      assert.equal(direct.code, 0, direct.stderr);
      assert.equal(direct.stdout.trim(), '', 'an unaudited request reached dockerd');
    } finally {
      await gw.close(100);
    }
  });

  it('warns a week before its CRL expires, while clients still get in', async () => {
    // Made 25 days ago: its 30-day validity ends in 5 days.
    const good = await swapInCrlMadeDaysAgo(25, 98);
    try {
      await until('the CRL expiry warning', () => f.logs.some((x) => x.includes('warning: the CRL') && x.includes('dockward pki crl')), 10_000);
      const r = await runDocker(['version', '--format', '{{.Server.APIVersion}}'], {
        env: { DOCKER_HOST: `tcp://127.0.0.1:${f.port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: f.clientDir('admin') },
      });
      assert.equal(r.code, 0, r.stderr);
    } finally {
      const reloads = f.logs.filter((x) => x.includes('reloaded')).length;
      await replaceCrl(good);
      await until('the good CRL to be back', () => f.logs.filter((x) => x.includes('reloaded')).length > reloads, 10_000);
    }
  });

  it('says that its CRL has expired instead of hanging up on every client without a reason', async () => {
    // A reload refuses an expired CRL (the running gateway keeps its good one); a gateway started
    // on one, or whose CRL runs out while in use, refuses every client and says why.
    const good = await swapInCrlMadeDaysAgo(40, 99);
    const logs: string[] = [];
    const auditFile = join(f.dir, 'expired-crl-audit.log');
    const gw = await tcpGateway(auditFile, {}, (l) => logs.push(l));
    try {
      assert.ok(logs.some((x) => x.includes('CRL') && x.includes('expired') && x.includes('every client certificate is refused') && x.includes('dockward pki crl')), logs.join('\n'));
      const r = await runDocker(['version'], {
        env: { DOCKER_HOST: `tcp://127.0.0.1:${gw.listeners[0]!.port!}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: f.clientDir('admin') },
      });
      assert.notEqual(r.code, 0);
      // The client hears it too, instead of a hang-up.
      assert.match(r.stderr, /Error response from daemon: dockward: refused: the gateway's CRL expired on .*dockward pki crl/, r.stderr);
      await until('the audit line', async () => (await readFile(auditFile, 'utf8')).includes('refused'), 3000);
      const refused = (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { decision: string; error?: string }).filter((x) => x.decision === 'refused');
      assert.ok(refused.length && refused.every((x) => x.error?.includes('CRL') && x.error.includes('expired')), JSON.stringify(refused));
    } finally {
      await gw.close(100);
      await replaceCrl(good);
      await f.gateway.reload();
    }
    assert.equal((await f.docker('admin', ['version'])).code, 0);
  });

  it("audits the refusals Node's HTTP server makes by itself (no Host, an unknown Expect, a parse error) with the identity", async () => {
    const admin = await clientTls(f, 'admin');
    const before = (await f.audit()).length;
    const missingHost = await rawExchange(admin, `GET ${f.api}/containers/json HTTP/1.1\r\n\r\n`, 300);
    assert.match(missingHost, /^HTTP\/1.1 400 /);
    const expect = await rawExchange(admin, `GET ${f.api}/containers/json HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n`, 300);
    assert.match(expect, /^HTTP\/1.1 417 /);
    // Malformed (obs-fold): refused by the parser, and the line still says who sent it.
    const folded = await rawExchange(admin, 'GET /_ping HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n', 300);
    assert.match(folded, /^HTTP\/1.1 400 /);
    await until('three audit lines', async () => (await f.audit()).length >= before + 3, 3000);
    const recs = (await f.audit()).slice(before);
    assert.deepEqual(
      recs.map((r) => [r.identity, r.status, r.decision]),
      [
        ['admin', 400, 'bad'],
        ['admin', 417, 'bad'],
        ['admin', 400, 'bad'],
      ],
    );
  });

  it('audits a CONNECT and a malformed request pipelined behind another, once each', async () => {
    const admin = await clientTls(f, 'admin');
    const before = (await f.audit()).length;
    const connect = await rawExchange(admin, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n', 300);
    assert.match(connect, /^HTTP\/1.1 405 /, connect);
    await until('the CONNECT line', async () => (await f.audit()).length > before, 3000);
    // The second request is malformed while the first one's answer is still on its way.
    await rawExchange(admin, `GET ${f.api}/version HTTP/1.1\r\nHost: x\r\n\r\nGET /_ping HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n`, 300);
    await until('the pipelined lines', async () => (await f.audit()).length >= before + 3, 3000);
    await new Promise((r) => setTimeout(r, 300));
    const recs = (await f.audit()).slice(before);
    assert.equal(recs.length, 3, JSON.stringify(recs));
    assert.deepEqual([recs[0]!.identity, recs[0]!.method, recs[0]!.status, recs[0]!.decision], ['admin', 'CONNECT', 405, 'bad']);
    const bad = recs.slice(1).filter((r) => r.decision === 'bad');
    assert.equal(bad.length, 1, JSON.stringify(recs));
    assert.equal(bad[0]!.identity, 'admin');
    assert.match(bad[0]!.remote, /^127\.0\.0\.1:\d+$/);
    assert.ok(recs.slice(1).some((r) => r.route !== null && r.path?.endsWith('/version')), JSON.stringify(recs));
  });

  it('ends what a certificate opened once it is revoked: keep-alive connections and hijacked streams', async () => {
    const logs: string[] = [];
    const policy = join(f.dir, 'revoked-policy.yaml');
    await writeFile(policy, 'version: 1\nidentities:\n  - name: ops\n    match: { cn: ops }\n    roles: [ops]\nroles:\n  ops:\n    allow: [preset:all]\n');
    await issueClient({ dir: f.pki, name: 'ops', onWarning: () => undefined });
    const gw = await startGateway({
      upstreamSocket: f.engine.socketPath,
      listeners: [{ kind: 'tcp', host: '127.0.0.1', port: 0, tls: tlsFilesFromPki(f.pki) }],
      policy: await loadPolicyFile(policy),
      auditLog: join(f.dir, 'revoked-audit.log'),
      log: (line) => logs.push(line),
    });
    const conns: tls.TLSSocket[] = [];
    try {
      const run = await f.docker('admin', ['run', '-d', '--name', 'quiet', '--network', 'none', TEST_IMAGE, 'sleep', '600']);
      assert.equal(run.code, 0, run.stderr);
      const opts = { ...(await clientTls(f, 'ops')), port: gw.listeners[0]!.port! };
      const open = async () => {
        const c = tls.connect(opts);
        conns.push(c);
        const got: Buffer[] = [];
        c.on('data', (d: Buffer) => got.push(d));
        await new Promise<void>((r) => c.once('secureConnect', () => r()));
        return { c, text: () => Buffer.concat(got).toString('latin1'), closed: new Promise<void>((r) => c.once('close', () => r())) };
      };
      const keep = await open();
      keep.c.write('GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n');
      await until('the first answer', () => keep.text().includes('OK'), 10_000);
      const stream = await open();
      stream.c.write(`POST ${f.api}/containers/quiet/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`);
      await until('the 101', () => stream.text().startsWith('HTTP/1.1 101 '), 10_000);

      await revoke({ dir: f.pki, target: 'ops', onWarning: () => undefined });
      await until('the reload', () => logs.some((l) => l.includes('reloaded')), 10_000);
      await Promise.race([stream.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the revoked stream is still open')), 5000))]);
      await Promise.race([keep.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the revoked keep-alive connection is still open')), 5000))]);
      assert.ok(logs.some((l) => l.includes('closed 2 connection(s) of revoked certificates')), logs.join('\n'));
    } finally {
      for (const c of conns) c.destroy();
      await gw.close(100);
    }
  });

  it('reopens its audit log on reload, so lines after a rotation go to the new file', async () => {
    const file = join(f.dir, 'rotated.log');
    const sock = join(f.dir, 'rotate.sock');
    const gw = await startGateway({
      upstreamSocket: f.engine.socketPath,
      listeners: [{ kind: 'unix', path: sock, identity: 'sidecar', mode: 0o600 }],
      policy: await loadPolicyFile(join(f.dir, 'policy.yaml')),
      auditLog: file,
      log: () => undefined,
    });
    const has = async (path: string, route: string) => existsSync(path) && (await readFile(path, 'utf8')).includes(`"route":"${route}"`);
    try {
      await runDocker(['-H', `unix://${sock}`, 'version']);
      await until('the first line', () => has(file, 'GET /version'), 5000);
      await rename(file, `${file}.1`);
      await gw.reload();
      await runDocker(['-H', `unix://${sock}`, 'ps']);
      await until('a line in the new file', () => has(file, 'GET /containers/json'), 5000);
      assert.equal(await has(`${file}.1`, 'GET /containers/json'), false);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
    } finally {
      await gw.close(100);
    }
  });

  it('does not audit an answer as sent when the connection died before it (a broken chunked body)', async () => {
    const admin = await clientTls(f, 'admin');
    const before = (await f.audit()).length;
    const answer = await rawExchange(
      admin,
      `POST ${f.api}/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"Ima\r\nzz\r\n`,
      500,
    );
    assert.doesNotMatch(answer, /HTTP\/1.1 2/);
    await until('the audit line', async () => (await f.audit()).length > before, 3000);
    const [rec] = (await f.audit()).slice(before);
    assert.equal(rec?.route, 'POST /containers/create');
    assert.equal(rec?.status, null, JSON.stringify(rec));
  });

  it('warns when dockerd speaks a newer API than the gateway knows, whose bodies it cannot check', async () => {
    // A stand-in for a newer dockerd: only its /version answer matters to this warning.
    const sock = join(f.dir, 'newer-dockerd.sock');
    const fake = http.createServer((_req, res) => res.end(JSON.stringify({ ApiVersion: '1.56' })));
    await new Promise<void>((resolve) => fake.listen(sock, resolve));
    const logs: string[] = [];
    const gw = await startGateway({
      upstreamSocket: sock,
      listeners: [{ kind: 'unix', path: join(f.dir, 'newer-gw.sock'), identity: 'sidecar', mode: 0o600 }],
      policy: await loadPolicyFile(join(f.dir, 'policy.yaml')),
      auditLog: join(f.dir, 'newer-audit.log'),
      log: (line) => logs.push(line),
    });
    try {
      assert.ok(logs.some((x) => /dockerd speaks API 1\.56, newer than the gateway's 1\.51: .*forwarded as API 1\.51.*routes added after API 1\.55 are refused/.test(x)), logs.join('\n'));
      assert.ok(logs.some((x) => /no model of the request bodies of dockerd API 1\.56 \(it knows 1\.41, 1\.45 and 1\.51\): .*refused .*POST \/containers\/create/.test(x)), logs.join('\n'));
    } finally {
      await gw.close(100);
      await new Promise((resolve) => fake.close(resolve));
    }
  });

  it('drops a connection that never completes its TLS handshake, so silent clients cannot hold every slot', async () => {
    const gw = await tcpGateway(join(f.dir, 'handshake-audit.log'), { maxConnections: 4, handshakeTimeoutMs: 500 });
    const silent: net.Socket[] = [];
    try {
      const port = gw.listeners[0]!.port!;
      for (let i = 0; i < 4; i++) silent.push(silentConnection(port));
      await until('the silent connections to be dropped', () => silent.every((c) => c.destroyed || c.readableEnded), 5_000);
      const r = await runDocker(['version', '--format', '{{.Server.APIVersion}}'], {
        env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: f.clientDir('admin') },
        timeoutMs: 15_000,
      });
      assert.equal(r.code, 0, r.stderr);
    } finally {
      for (const c of silent) c.destroy();
      await gw.close(100);
    }
  });

  it('caps the handshakes under way per client address by shedding its oldest silent one, so one host cannot hold every slot', async () => {
    const auditFile = join(f.dir, 'per-address-audit.log');
    // Long enough that only the cap, not the timeout, can end the silent connections.
    const gw = await tcpGateway(auditFile, { maxConnections: 64, maxHandshakesPerAddress: 3, handshakeTimeoutMs: 60_000 });
    const port = gw.listeners[0]!.port!;
    const silent: net.Socket[] = [];
    const open = () => {
      const c = silentConnection(port);
      silent.push(c);
      return c;
    };
    const admin = { ...(await clientTls(f, 'admin')), port };
    const ping = 'GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const gone = (c: net.Socket) => c.destroyed || c.readableEnded;
    try {
      // Handshakes that succeed give their place back at once: four authenticated connections,
      // one after the other, all kept open (each answered, so the server side is done too).
      const kept: tls.TLSSocket[] = [];
      for (let i = 0; i < 4; i++) {
        const s = tls.connect(admin);
        kept.push(s);
        await new Promise<void>((resolve, reject) => {
          s.on('error', reject);
          s.once('secureConnect', () => s.write('GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n'));
          s.once('data', (d: Buffer) => (/^HTTP\/1.1 200/.test(d.toString('latin1')) ? resolve() : reject(new Error(d.toString('latin1')))));
        });
      }
      const held = [open(), open(), open()];
      await Promise.all(held.map((c) => new Promise((r) => c.once('connect', r))));
      const fourth = open();
      await new Promise((r) => fourth.once('connect', r));
      // The oldest silent one makes room; the newcomer is not refused.
      await until('the oldest silent connection to be shed', () => gone(held[0]!), 5_000);
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(!gone(fourth) && !gone(held[1]!) && !gone(held[2]!), 'a newer connection was dropped instead of the oldest');
      // Authenticated connections never count: the four kept ones are untouched.
      assert.ok(kept.every((s) => !s.destroyed), 'an authenticated connection was dropped');
      for (const s of kept) s.destroy();
      // A client at the full address gets in (the attacker's oldest socket makes room for it).
      assert.match(await rawExchange(admin, ping, 1000), /^HTTP\/1.1 200/);
      // Another address is not affected (127.0.0.2 reaches the 127.0.0.1 listener over loopback).
      // tls.connect takes net's connect options too; its type does not list them.
      const fromOther: tls.ConnectionOptions & net.TcpSocketConnectOpts = { ...admin, port, localAddress: '127.0.0.2' };
      const other = await rawExchange(fromOther, ping, 1000);
      assert.match(other, /^HTTP\/1.1 200/, other);
    } finally {
      for (const c of silent) c.destroy();
      await gw.close(100);
    }
    const lines = (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { decision: string; error?: string; remote: string });
    assert.ok(
      lines.some((r) => r.decision === 'refused' && r.error === 'shed to make room: the oldest silent of 3 TLS handshakes under way from this address' && r.remote.startsWith('127.0.0.1:')),
      JSON.stringify(lines),
    );
    // Each shed connection is audited once: never a second time as a hang-up.
    const hangUps = lines.filter((r) => r.error === 'the client closed the connection during the TLS handshake').length;
    assert.ok(hangUps <= silent.length, JSON.stringify(lines));
  });

  it('holds a client refused for its certificate no longer than a handshake, and sheds it like one', async () => {
    const auditFile = join(f.dir, 'refused-hold-audit.log');
    const gw = await tcpGateway(auditFile, { maxHandshakesPerAddress: 2, handshakeTimeoutMs: 1500 });
    const port = gw.listeners[0]!.port!;
    const { cert: _cert, key: _key, ...noCert } = { ...(await clientTls(f, 'admin')), port };
    const held: tls.TLSSocket[] = [];
    let third: net.Socket | undefined;
    try {
      // Handshakes done, refused (no certificate), and silent: they keep their address's places.
      for (let i = 0; i < 2; i++) {
        const s = tls.connect(noCert);
        s.on('error', () => undefined);
        held.push(s);
        await new Promise<void>((r) => s.once('secureConnect', () => r()));
      }
      third = silentConnection(port);
      // ... the oldest makes room for a newcomer ...
      await until('the oldest refused client to be shed', () => held[0]!.destroyed || held[0]!.readableEnded, 1000);
      // ... and the rest is dropped a handshake's time later.
      await until('the refused clients to be dropped', () => held.every((s) => s.destroyed || s.readableEnded), 5000);
    } finally {
      for (const s of held) s.destroy();
      third?.destroy();
      await gw.close(100);
    }
    const lines = (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { error?: string; repeated?: number });
    // Both refusals are there, the second counted in its summary.
    assert.equal(lines.filter((x) => x.error?.endsWith('no client certificate')).reduce((n, x) => n + (x.repeated ?? 1), 0), 2, JSON.stringify(lines));
  });

  it('frees the slot of a connection closed before its TLS handshake', async () => {
    // A client that connects and hangs up without a handshake (a port scan, a health check)
    // must not hold one of the maxConnections slots: with all of them held, nobody gets in.
    const gw = await tcpGateway(join(f.dir, 'slots-audit.log'), { maxConnections: 4 });
    try {
      const port = gw.listeners[0]!.port!;
      for (let i = 0; i < 8; i++) {
        await new Promise<void>((resolve, reject) => {
          const c = net.connect(port, '127.0.0.1', () => c.end());
          c.on('error', reject);
          // Our FIN is out; not waiting for the gateway's.
          c.on('finish', () => {
            c.destroy();
            resolve();
          });
        });
      }
      const r = await runDocker(['version', '--format', '{{.Server.APIVersion}}'], {
        env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: f.clientDir('admin') },
        timeoutMs: 15_000,
      });
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await gw.close(100);
    }
  });
});
