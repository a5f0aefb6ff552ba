/**
 * The request pipeline's outcomes on the wire, against a real dockerd: a refusal releases its
 * connection (after reading a bounded rest of the body, so a client still uploading reads it),
 * every outcome of an ordinary or hijacked request gets exactly one audit line, no header is
 * dropped unseen, a request without a body reaches dockerd without one, and a policy reload ends
 * what the new policy refuses.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { issueClient } from '../../src/pki/index.js';
import { startGateway } from '../../src/gateway/server.js';
import { loadPolicyFile } from '../../src/policy/index.js';
import type { AuditRecord } from '../../src/gateway/audit-log.js';
import { engineSkipReason, TEST_IMAGE } from '../harness/engine.js';
import { clientTls, rawExchange, rawPost, startGatewayFixture, TEST_POLICY, until, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();

/** What the gateway answered on one connection, and whether it closed it within `ms`. */
function answerAndClose(connect: () => net.Socket, payload: string | Buffer, ms: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect();
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: false });
    }, ms);
    s.once(s instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => s.write(payload));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (e) => (chunks.length ? undefined : reject(e)));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: true });
    });
  });
}

/** Creates an exec of `cmd` in `container` as admin; its id. */
async function execId(f: GatewayFixture, container: string, cmd: string[]): Promise<string> {
  const body = JSON.stringify({ Cmd: cmd, AttachStdout: true });
  const text = await rawPost(f, 'admin', `${f.api}/containers/${container}/exec`, body);
  const m = /"Id":"([0-9a-f]+)"/.exec(text);
  assert.ok(m, text);
  return m[1]!;
}

/** The audit lines written since `count` lines, once `n` have come (and a moment for any extra one). */
async function newLines(f: GatewayFixture, count: number, n: number): Promise<AuditRecord[]> {
  await until(`${n} new audit line(s)`, async () => (await f.audit()).length >= count + n, 15_000);
  await new Promise((r) => setTimeout(r, 500));
  return (await f.audit()).slice(count);
}

describe('the request pipeline', { skip }, () => {
  let f: GatewayFixture;
  let reader: tls.ConnectionOptions;
  let admin: tls.ConnectionOptions;
  let stranger: tls.ConnectionOptions;
  const over = (opts: tls.ConnectionOptions) => () => tls.connect(opts);

  before(async () => {
    f = await startGatewayFixture();
    await issueClient({ dir: f.pki, name: 'stranger', onWarning: () => undefined });
    [reader, admin, stranger] = await Promise.all([clientTls(f, 'reader'), clientTls(f, 'admin'), clientTls(f, 'stranger')]);
  });
  after(async () => f?.stop());

  for (const [who, client] of [
    ['a refused identity', () => reader],
    ['a certificate matching no identity', () => stranger],
  ] as const) {
    it(`closes the connection of a refused request with an unread body at once: ${who}`, async () => {
      const count = (await f.audit()).length;
      // 100 MB announced, 1 KiB sent, then silence: the gateway must not wait for the rest.
      const head = `POST ${f.api}/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n`;
      const started = Date.now();
      const { text, closed } = await answerAndClose(over(client()), Buffer.concat([Buffer.from(head), Buffer.alloc(1024, 0x20)]), 9_000);
      assert.match(text, /^HTTP\/1.1 403 /, text);
      assert.match(text, /Connection: close/i, text);
      assert.ok(closed, `the connection was still open after ${Date.now() - started} ms`);
      const recs = (await newLines(f, count, 1)).filter((r) => r.path === `${f.api}/containers/create`);
      assert.equal(recs.length, 1, JSON.stringify(recs));
      assert.equal(recs[0]!.status, 403);
    });
  }

  it('lets the docker CLI still uploading a refused build read the refusal, not a broken pipe', async () => {
    const ctx = join(f.dir, 'big-context');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${TEST_IMAGE}\nCOPY blob /blob\n`);
    await writeFile(join(ctx, 'blob'), randomBytes(6 * 1024 * 1024));
    try {
      const r = await f.docker('reader', ['build', '-t', 'refused', ctx], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 60_000 });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Error response from daemon: dockward: identity "reader" may not POST \/build/, r.stderr);
    } finally {
      await rm(ctx, { recursive: true, force: true });
    }
  });

  it('refuses a request with more headers than it reads (431), instead of dropping the rest unseen', async () => {
    const count = (await f.audit()).length;
    const filler = 'A: 1\r\n'.repeat(2000);
    const text = await rawExchange(admin, `GET ${f.api}/info HTTP/1.1\r\nHost: x\r\n${filler}Origin: http://evil.example\r\n\r\n`);
    assert.match(text, /^HTTP\/1.1 431 /, text.slice(0, 300));
    const recs = await newLines(f, count, 1);
    assert.equal(recs.length, 1, JSON.stringify(recs));
    assert.equal(recs[0]!.status, 431);
  });

  it('forwards a POST without Content-Length or Transfer-Encoding without a body: curl -X POST …/start starts the container', async () => {
    const created = await f.docker('admin', ['create', '--name', 'bodyless', '--network', 'none', TEST_IMAGE, 'sleep', '60']);
    assert.equal(created.code, 0, created.stderr);
    const d = f.clientDir('admin');
    const { stdout } = await promisify(execFile)('curl', [
      '-sS', '-X', 'POST', '-w', '\n%{http_code}', '--cacert', join(d, 'ca.pem'), '--cert', join(d, 'cert.pem'), '--key', join(d, 'key.pem'),
      `https://127.0.0.1:${f.port}${f.api}/containers/bodyless/start`,
    ]);
    assert.match(stdout, /204$/, stdout);
    const inspect = await f.docker('admin', ['inspect', '-f', '{{.State.Running}}', 'bodyless']);
    assert.equal(inspect.stdout.trim(), 'true');
    await f.docker('admin', ['rm', '-f', 'bodyless']);
  });

  describe('hijacked requests: one audit line per outcome, and no connection held after the answer', () => {
    const startPath = (id: string) => `${f.api}/exec/${id}/start`;
    const upgrade = (path: string, body: string, length = Buffer.byteLength(body)) =>
      `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n${body}`;
    let container: string;

    before(async () => {
      const run = await f.docker('admin', ['run', '-d', '--name', 'hijacked', '--network', 'none', TEST_IMAGE, 'sleep', '600']);
      assert.equal(run.code, 0, run.stderr);
      container = run.stdout.trim();
    });
    after(async () => {
      await f.docker('admin', ['rm', '-f', 'hijacked']);
    });

    for (const [what, client, exec, status] of [
      ['refused', () => reader, 'whatever', 403],
      ["dockerd's answer is not 101 (relayed)", () => admin, 'nope', 404],
    ] as const) {
      it(`${what}: the answer, then the connection closes`, async () => {
        const count = (await f.audit()).length;
        const { text, closed } = await answerAndClose(over(client()), upgrade(startPath(exec), '{}'), 9_000);
        assert.match(text, new RegExp(`^HTTP/1.1 ${status} `), text);
        assert.ok(closed, 'the connection stayed open after the answer');
        const recs = await newLines(f, count, 1);
        assert.equal(recs.length, 1, JSON.stringify(recs));
        assert.equal(recs[0]!.status, status);
      });
    }

    it('101, then the stream closes', async () => {
      const id = await execId(f, container, ['echo', 'streamed']);
      const count = (await f.audit()).length;
      const text = await rawExchange(admin, upgrade(startPath(id), '{"Detach":false,"Tty":false}'), 3000);
      assert.match(text, /^HTTP\/1.1 101 /, text);
      assert.match(text, /streamed/);
      const recs = await newLines(f, count, 1);
      assert.equal(recs.length, 1, JSON.stringify(recs));
      assert.equal(recs[0]!.hijacked, true);
      assert.equal(recs[0]!.status, 101);
    });

    it('the client is gone before its body arrived', async () => {
      const count = (await f.audit()).length;
      await answerAndClose(over(admin), upgrade(startPath('nope'), '{', 20), 1000);
      const recs = await newLines(f, count, 1);
      assert.equal(recs.length, 1, JSON.stringify(recs));
      assert.equal(recs[0]!.status, 408);
    });

    it('dockerd cannot be reached', async () => {
      // A gateway whose upstream is a relay to this dockerd that is then taken away.
      const relayPath = join(f.dir, 'relay.sock');
      const relay = net.createServer((c) => {
        const up = net.connect(f.engine.socketPath);
        c.pipe(up).pipe(c);
        c.on('error', () => up.destroy());
        up.on('error', () => c.destroy());
      });
      await new Promise<void>((r) => relay.listen(relayPath, r));
      const auditPath = join(f.dir, 'relay-audit.log');
      const unix = join(f.dir, 'relay-gw.sock');
      const gw = await startGateway({
        upstreamSocket: relayPath,
        listeners: [{ kind: 'unix', path: unix, identity: 'sidecar', mode: 0o600 }],
        policy: await loadPolicyFile(join(f.dir, 'policy.yaml')),
        auditLog: auditPath,
        log: () => undefined,
      });
      try {
        await new Promise<void>((r) => relay.close(() => r()));
        await rm(relayPath, { force: true });
        const { text } = await answerAndClose(() => net.connect(unix), upgrade(startPath('nope'), '{}'), 9_000);
        assert.match(text, /^HTTP\/1.1 502 /, text);
        await new Promise((r) => setTimeout(r, 500));
        const recs = (await readFile(auditPath, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);
        assert.equal(recs.length, 1, JSON.stringify(recs));
        assert.equal(recs[0]!.status, 502);
      } finally {
        await gw.close(1000);
      }
    });
  });

  describe('a policy reload', () => {
    /** Reloads TEST_POLICY with each [text, replacement] applied. */
    const reloadWith = async (...edits: [string, string][]) => {
      let policy = TEST_POLICY;
      for (const [text, replacement] of edits) {
        assert.ok(policy.includes(text), `TEST_POLICY has no ${JSON.stringify(text)}`);
        policy = policy.replace(text, replacement);
      }
      await writeFile(join(f.dir, 'policy.yaml'), policy);
      await f.gateway.reload();
    };
    after(async () => reloadWith());

    it('ends the streams the new policy refuses (an events stream, an exec session), one audit line each saying why', async () => {
      const run = await f.docker('admin', ['run', '-d', '--name', 'reloaded', '--network', 'none', TEST_IMAGE, 'sleep', '600']);
      assert.equal(run.code, 0, run.stderr);
      try {
        const id = await execId(f, 'reloaded', ['sleep', '600']);
        const worker = await clientTls(f, 'worker');
        const count = (await f.audit()).length;
        const events = answerAndClose(over(reader), `GET ${f.api}/events HTTP/1.1\r\nHost: x\r\n\r\n`, 20_000);
        const session = answerAndClose(
          over(worker),
          `POST ${f.api}/exec/${id}/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
          20_000,
        );
        await new Promise((r) => setTimeout(r, 1500));
        await reloadWith(
          ['    allow: [preset:read-only]\n', '    allow: ["GET /_ping"]\n'],
          ['    allow: [preset:containers, preset:exec, preset:volumes, preset:networks]\n', '    allow: [preset:containers, preset:volumes, preset:networks]\n'],
        );
        const [e, s] = await Promise.all([events, session]);
        assert.ok(e.closed, 'the events stream is still open');
        assert.ok(s.closed, 'the exec session is still open');
        assert.match(s.text, /^HTTP\/1.1 101 /, s.text);
        const recs = await newLines(f, count, 2);
        const ended = recs.filter((r) => /ended by a policy reload/.test(r.error ?? ''));
        assert.equal(ended.length, 2, JSON.stringify(recs));
        assert.deepEqual(ended.map((r) => r.route).sort(), ['GET /events', 'POST /exec/{id}/start']);
        assert.equal(recs.filter((r) => r.route === 'GET /events').length, 1, JSON.stringify(recs));
      } finally {
        await f.docker('admin', ['rm', '-f', 'reloaded']);
      }
    });

    it('writes what an audit-only role would have refused on the audit line of the request it let through', async () => {
      await reloadWith(
        ['    roles: [reader]\n  - name: victim', '    roles: [reader, shadow]\n  - name: victim'],
        ['roles:\n  admin:\n', 'roles:\n  shadow:\n    audit-only: true\n  admin:\n'],
      );
      const count = (await f.audit()).length;
      const text = await rawExchange(reader, `DELETE ${f.api}/containers/no-such-container HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.match(text, /^HTTP\/1.1 404 /, text);
      const [rec] = await newLines(f, count, 1);
      assert.equal(rec!.auditOnly, true, JSON.stringify(rec));
      assert.match(rec!.wouldDeny ?? '', /identity "reader" may not DELETE \/containers\/\{id\}/, JSON.stringify(rec));
    });

    it('closes the idle connections of an identity the new policy no longer has, one audit line each', async () => {
      await reloadWith();
      const count = (await f.audit()).length;
      // One answered ping, then the keep-alive connection idles (keepAliveTimeout is 30 s).
      const idle = answerAndClose(over(reader), 'GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n', 20_000);
      await until('the ping line', async () => (await f.audit()).length > count, 10_000);
      await reloadWith(['    match: { cn: reader }\n', '    match: { cn: nobody }\n']);
      const { text, closed } = await idle;
      assert.match(text, /^HTTP\/1.1 200 /, text);
      assert.ok(closed, 'the idle connection is still open');
      const recs = await newLines(f, count, 2);
      const closedBy = recs.filter((r) => /connection closed by a policy reload/.test(r.error ?? ''));
      assert.equal(closedBy.length, 1, JSON.stringify(recs));
      assert.equal(closedBy[0]!.cn, 'reader');
    });
  });
});
