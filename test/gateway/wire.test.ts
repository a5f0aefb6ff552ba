/**
 * What arrives on the wire that a naive proxy would pass on: route tricks (dockerd decodes,
 * cleans and case-folds differently than a string filter), ambiguous framing, browser requests,
 * pipelining around an upgrade, bytes sent ahead of a 101, and credentials that must never reach
 * the audit log. Each is sent raw over mTLS; the audit log proves what reached dockerd (only
 * `allow` lines are forwarded).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { engineSkipReason, TEST_IMAGE } from '../harness/engine.js';
import { clientTls, rawExchange, startGatewayFixture, until, type GatewayFixture } from './fixture.js';
import { forwardRequestHeaders } from '../../src/gateway/wire.js';
import { clientGroup } from '../../src/gateway/client-group.js';

const skip = engineSkipReason();

/** The body of a complete chunked message (no trailers). */
function dechunk(raw: string): string {
  let out = '';
  for (let at = 0; ; ) {
    const eol = raw.indexOf('\r\n', at);
    const size = parseInt(raw.slice(at, eol), 16);
    assert.ok(eol > at && Number.isFinite(size), `bad chunk at ${at}: ${JSON.stringify(raw.slice(at, at + 20))}`);
    if (size === 0) return out;
    out += raw.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

function statuses(answer: string): number[] {
  return [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

describe('gateway wire handling', { skip, timeout: 300_000 }, () => {
  let f: GatewayFixture;
  let admin: tls.ConnectionOptions;
  let reader: tls.ConnectionOptions;
  const busyExists = async () => (await f.docker('admin', ['inspect', 'busy'])).code === 0;

  before(async () => {
    f = await startGatewayFixture();
    admin = await clientTls(f, 'admin');
    reader = await clientTls(f, 'reader');
    const r = await f.docker('admin', ['run', '-d', '--name', 'busy', '--network', 'none', TEST_IMAGE, 'sleep', '600']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => f?.stop());

  it('frames a JSON answer dockerd sent chunked as one Content-Length answer, never with both headers', async () => {
    // Enough containers that dockerd's list outgrows Go's 2 KiB buffer and goes out chunked.
    for (let i = 0; i < 6; i++) assert.equal((await f.docker('admin', ['create', '--name', `framing${i}`, '--network', 'none', TEST_IMAGE])).code, 0);
    const direct = await new Promise<string>((resolve, reject) => {
      const c = net.connect(f.engine.socketPath, () => c.end(`GET ${f.api}/containers/json?all=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      let out = '';
      c.on('data', (d: Buffer) => (out += d.toString('latin1')));
      c.on('end', () => resolve(out));
      c.on('error', reject);
    });
    assert.match(direct.split('\r\n\r\n')[0]!, /transfer-encoding: chunked/i);
    // The gateway holds such an answer for a few milliseconds only: on a loaded machine dockerd may
    // not finish in time, and then it streams, still correctly framed. Coalescing must happen in
    // one of a few tries; every try must be one framing or the other, never both.
    let coalesced = 0;
    for (let attempt = 0; attempt < 5 && !coalesced; attempt++) {
      const answer = await rawExchange(admin, `GET ${f.api}/containers/json?all=1 HTTP/1.1\r\nHost: x\r\n\r\n`, 300);
      const head = answer.split('\r\n\r\n')[0]!;
      assert.match(head, /^HTTP\/1\.1 200/);
      const length = /\r\ncontent-length: (\d+)/i.exec(head);
      const chunked = /\r\ntransfer-encoding: chunked/i.test(head);
      assert.ok(!!length !== chunked, `exactly one of Content-Length and chunked: ${head}`);
      const raw = answer.slice(head.length + 4);
      if (length) {
        assert.equal(Buffer.byteLength(raw, 'latin1'), Number(length[1]));
        coalesced++;
      }
      const body = length ? raw : dechunk(raw);
      assert.ok((JSON.parse(body) as unknown[]).length >= 6);
    }
    assert.equal(coalesced, 1, 'five answers in a row went out chunked');
  });

  it('gives no Content-Length to an answer without a body (204, HEAD)', async () => {
    assert.equal((await f.docker('admin', ['create', '--name', 'nobody', '--network', 'none', TEST_IMAGE])).code, 0);
    const gone = await rawExchange(admin, `DELETE ${f.api}/containers/nobody HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.deepEqual(statuses(gone), [204], gone);
    assert.doesNotMatch(gone.split('\r\n\r\n')[0]!, /content-length/i, gone);
    const stat = await rawExchange(admin, `HEAD ${f.api}/containers/busy/archive?path=/etc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.deepEqual(statuses(stat), [200], stat);
    assert.match(stat, /x-docker-container-path-stat: /i);
    assert.doesNotMatch(stat, /content-length: 0\r\n/i, stat);
  });

  it('refuses route tricks without forwarding them', async () => {
    const tricks = [
      '/v1.41/containers%2Fjson',
      '/v1.41/containers/json/../../info',
      '/v1.41/./info',
      '//info',
      '/V1.41/info',
      'https://127.0.0.1/v1.41/info',
      'http://docker/info',
      '*',
    ];
    for (const t of tricks) {
      const answer = await rawExchange(admin, `GET ${t} HTTP/1.1\r\nHost: x\r\n\r\n`, 300);
      const [status] = statuses(answer);
      assert.ok(status !== undefined && status >= 400 && status < 500, `${t}: ${answer}`);
      assert.match(answer, /\{"message":"dockward: /, t);
    }
    const recs = (await f.audit()).filter((r) => r.method === 'GET' && r.identity === 'admin' && r.decision !== 'allow');
    assert.equal(recs.length, tricks.length, JSON.stringify(recs));
    assert.ok(!(await f.audit()).some((r) => r.route === 'GET /info'), 'a trick reached GET /info');
  });

  it('refuses ambiguous framing, browser origins and preflights', async () => {
    const cases: [string, number][] = [
      [`POST ${f.api}/containers/busy/stop HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
      [`POST ${f.api}/containers/busy/stop HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n`, 400],
      [`POST ${f.api}/containers/busy/stop HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 41\r\n\r\n`, 400],
      [`POST ${f.api}/containers/busy/stop HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n`, 400],
      [`POST ${f.api}/containers/busy/stop HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`, 400],
      [`POST ${f.api}/containers/busy/stop HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nContent-Length: 0\r\n\r\n`, 403],
      [`OPTIONS ${f.api}/containers/busy/stop HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n\r\n`, 403],
      [`OPTIONS ${f.api}/containers/json HTTP/1.1\r\nHost: x\r\n\r\n`, 403],
    ];
    for (const [req, status] of cases) {
      const answer = await rawExchange(admin, req, 300);
      assert.deepEqual(statuses(answer), [status], `${JSON.stringify(req)} -> ${answer}`);
      assert.match(answer, /\{"message":"dockward: /);
    }
    assert.ok(!(await f.audit()).some((r) => r.route === 'POST /containers/{id}/stop'));
    assert.ok(await busyExists());
    const running = await f.docker('admin', ['inspect', '-f', '{{.State.Running}}', 'busy']);
    assert.equal(running.stdout.trim(), 'true');
  });

  it('invites a body with 100 Continue only once the request is authorized', async () => {
    const put = (len: number) =>
      `PUT ${f.api}/containers/busy/archive?path=/tmp HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: ${len}\r\nExpect: 100-continue\r\n\r\n`;
    // The body is never sent: a refused client must hear its refusal instead of an invitation.
    const refused = await rawExchange(reader, put(1 << 20), 300);
    assert.deepEqual(statuses(refused), [403], refused);
    assert.match(refused, /Connection: close/i);
    // An allowed one is invited, sends its body (an empty tar), and gets dockerd's answer.
    const tar = Buffer.alloc(1024).toString('latin1');
    const invited = await rawExchange(admin, put(tar.length), 300);
    assert.deepEqual(statuses(invited), [100], invited);
    const answer = await rawExchange(admin, put(tar.length) + tar, 500);
    assert.deepEqual(statuses(answer), [100, 200], answer);
    // HTTP/1.0 has no 1xx: its body is simply read.
    const old = await rawExchange(admin, put(tar.length).replace('HTTP/1.1', 'HTTP/1.0') + tar, 500);
    assert.deepEqual(statuses(old).length, 1, old);
    assert.match(old, /^HTTP\/1.1 200/, old);
    // An Upgrade request (exec start) is invited too, instead of waiting out the body timeout.
    const upgrade = await rawExchange(
      admin,
      `POST ${f.api}/exec/nope/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n`,
      300,
    );
    assert.deepEqual(statuses(upgrade), [100], upgrade);
  });

  it('authorizes each pipelined request on its own, also around an upgrade', async () => {
    const ping = 'GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n';
    const del = `DELETE ${f.api}/containers/busy?force=1 HTTP/1.1\r\nHost: x\r\n\r\n`;
    // A refusal ends the connection (it releases its slot): the ping behind the DELETE is never read.
    assert.deepEqual(statuses(await rawExchange(reader, `GET ${f.api}/info HTTP/1.1\r\nHost: x\r\n\r\n${ping}${del}${ping}`)), [200, 200, 403]);
    const attach =
      `POST ${f.api}/containers/busy/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`;
    // The refused upgrade ends the connection: the DELETE behind it is never read.
    assert.deepEqual(statuses(await rawExchange(reader, `${ping}${attach}${del}`)), [200, 403]);
    assert.ok(await busyExists());
  });

  it('never parses bytes sent after an upgrade request as HTTP', async () => {
    const run = await f.docker('admin', ['run', '-d', '-i', '--name', 'short', '--network', 'none', TEST_IMAGE, 'sh', '-c', 'sleep 2; echo done']);
    assert.equal(run.code, 0, run.stderr);
    const attach =
      `POST ${f.api}/containers/short/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`;
    const before = (await f.audit()).length;
    // Ends when the container does (dockerd closes the stream); the audit line comes then.
    const answer = await rawExchange(admin, `${attach}DELETE ${f.api}/containers/busy?force=1 HTTP/1.1\r\nHost: x\r\n\r\n`, 10_000);
    assert.deepEqual(statuses(answer), [101], answer);
    assert.match(answer, /done/);
    await new Promise((r) => setTimeout(r, 300));
    const recs = (await f.audit()).slice(before);
    assert.ok(!recs.some((r) => r.method === 'DELETE'), JSON.stringify(recs));
    assert.ok(recs.some((r) => r.route === 'POST /containers/{id}/attach' && r.hijacked), JSON.stringify(recs));
    assert.ok(await busyExists());
  });

  it('accepts Upgrade only on the routes dockerd hijacks', async () => {
    const answer = await rawExchange(admin, `GET ${f.api}/info HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nGET ${f.api}/info HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.deepEqual(statuses(answer), [400], answer);
    // A hijack route dockerd answers without switching (no such exec): relayed, then closed.
    const none = await rawExchange(admin, `POST ${f.api}/exec/nope/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
    assert.deepEqual(statuses(none), [404], none);
    assert.match(none, /Connection: close/);
  });

  it('keeps credentials, environment values and queries out of the audit log', async () => {
    const auth = Buffer.from(JSON.stringify({ username: 'u', password: 'SECRET-REGISTRY-AUTH' })).toString('base64');
    const cfg = Buffer.from(JSON.stringify({ '127.0.0.1:1': { password: 'SECRET-REGISTRY-CONFIG' } })).toString('base64');
    const authBody = JSON.stringify({ username: 'u', password: 'SECRET-AUTH-BODY', serveraddress: '127.0.0.1:1' });
    const create = JSON.stringify({ Image: TEST_IMAGE, Cmd: ['true'], Env: ['PASSWORD=SECRET-ENV-VALUE'], HostConfig: { NetworkMode: 'none' } });
    const reqs = [
      `POST ${f.api}/images/create?fromImage=127.0.0.1%3A1%2Fimg&tag=SECRET-QUERY HTTP/1.1\r\nHost: x\r\nX-Registry-Auth: ${auth}\r\nContent-Length: 0\r\n\r\n`,
      `POST ${f.api}/build?buildargs=%7B%22TOKEN%22%3A%22SECRET-BUILD-ARG%22%7D HTTP/1.1\r\nHost: x\r\nX-Registry-Config: ${cfg}\r\nContent-Length: 0\r\n\r\n`,
      `POST ${f.api}/auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${authBody.length}\r\n\r\n${authBody}`,
      `POST ${f.api}/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${create.length}\r\n\r\n${create}`,
    ];
    for (const r of reqs) assert.equal(statuses(await rawExchange(admin, r, 1500)).length, 1, r);
    const text = await readFile(f.auditPath, 'utf8');
    assert.ok(!/SECRET/.test(text), text.split('\n').filter((l) => l.includes('SECRET')).join('\n'));
    const routes = new Set((await f.audit()).map((r) => r.route));
    for (const r of ['POST /images/create', 'POST /build', 'POST /auth', 'POST /containers/create']) assert.ok(routes.has(r), r);
  });

  it("relays a wait's 200 at once, with no timer to fire first: docker run starts the container only after it", async (t) => {
    // dockerd flushes the head of POST /containers/{id}/wait before the container exits; the
    // CLI waits for it before it sends `start`. With timers frozen, an answer the gateway holds
    // back on a timer (to coalesce it) never leaves; one relayed at once does.
    const s = tls.connect(admin);
    await once(s, 'secureConnect');
    let answer = '';
    s.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    t.mock.timers.enable({ apis: ['setTimeout'] });
    try {
      s.write(`POST ${f.api}/containers/busy/wait?condition=not-running HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n`);
      const end = performance.now() + 10_000;
      while (!answer.includes('\r\n\r\n') && performance.now() < end) await new Promise((r) => setImmediate(r));
    } finally {
      t.mock.timers.reset();
      s.destroy();
    }
    assert.match(answer, /^HTTP\/1\.1 200 /, `no head within 10 s with timers frozen: ${JSON.stringify(answer)}`);
  });
});

describe('audit log under load', { skip, timeout: 300_000 }, () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture();
  });
  after(async () => f?.stop());

  it('has one line for every request, allowed and refused alike', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const before = (await f.audit()).length;
    const paths = ['/_ping', `${f.api}/containers/json?all=1`, '/v1.41/containers%2Fjson', `${f.api}/version`];
    const n = 2000;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        new Promise<void>((resolve, reject) => {
          const req = http.request({ socketPath: f.unixSocket, agent, path: paths[i % paths.length], headers: { host: 'docker' } }, (res) => {
            res.resume();
            res.on('end', () => resolve());
          });
          req.on('error', reject);
          req.end();
        }),
      ),
    );
    agent.destroy();
    let recs = (await f.audit()).slice(before);
    // Waits for the lines to be flushed; the count itself is asserted below, not by the wait.
    await until(`${n} audit lines`, async () => (recs = (await f.audit()).slice(before)).length >= n, 5000).catch(() => undefined);
    assert.equal(recs.length, n);
    assert.equal(recs.filter((r) => r.decision === 'bad').length, n / 4);
  });
});

describe('header forwarding', () => {
  it('drops identity claims, hop-by-hop headers and Accept-Encoding', () => {
    const raw = [
      'Host', 'docker',
      'X-Forwarded-For', '10.0.0.1',
      'X-Dockward-Identity', 'admin',
      'Forwarded', 'for=1.2.3.4',
      'X-Real-IP', '1.2.3.4',
      'Connection', 'keep-alive, X-Hop',
      'X-Hop', 'dropped',
      'Keep-Alive', 'timeout=5',
      'Accept-Encoding', 'gzip',
      'Content-Type', 'application/json',
      'X-Registry-Auth', 'kept-for-dockerd',
    ];
    assert.deepEqual(forwardRequestHeaders(raw, 'strip'), ['Host', 'docker', 'Content-Type', 'application/json', 'X-Registry-Auth', 'kept-for-dockerd']);
    assert.deepEqual(forwardRequestHeaders(raw, 'forward').slice(2, 4), ['Accept-Encoding', 'gzip']);
    assert.deepEqual(forwardRequestHeaders(['Host', 'd'], 'strip', 'tcp'), ['Host', 'd', 'Connection', 'Upgrade', 'Upgrade', 'tcp']);
  });
});

describe('client grouping for the handshake cap', () => {
  it('counts IPv4 (also IPv4-mapped) per address and IPv6 per /64', () => {
    assert.equal(clientGroup('127.0.0.1'), '127.0.0.1');
    assert.equal(clientGroup('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(clientGroup('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientGroup('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
    assert.equal(clientGroup('::1'), '0:0:0:0::/64');
    assert.equal(clientGroup('not-an-address'), 'not-an-address');
  });
});
