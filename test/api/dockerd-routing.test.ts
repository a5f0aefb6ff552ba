// engines: trixie
/**
 * Grounds the route table and the canonicalization refusals in the real dockerd under test
 * (DOCKWARD_TEST_ENGINE: 20.10, API 1.41; trixie's 26.1, API 1.45, the first without
 * `POST /containers/{id}/copy`; or the newest, 28.5, API 1.51), through the table for
 * the API version that daemon reports:
 * - every (method, path) the table routes, dockerd routes too, and the paths/methods it does not,
 *   dockerd answers 404 "page not found" (side-effect free: a too-old API version /v1.11 makes
 *   dockerd's version middleware answer 400 for a route that exists, before any handler runs);
 * - for each refused trick, dockerd's reading differs from the naive one, which is why it is refused.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { engineRequest } from '../../src/engine/engine-client.js';
import { type PrivateDaemon } from '../../src/engine/private-daemon.js';
import { engineApi, type EngineApi } from '../../src/api/request.js';
import { HTTP_METHODS, type Route } from '../../src/api/routes.js';
import { authorize, defaultPolicy, withApiVersion, type Policy } from '../../src/policy/index.js';
import { startEngineDaemon, engineSkipReason } from '../harness/engine.js';
import { parseTarget } from '../../src/api/target.js';
import { fuzzTargets } from './fuzz-targets.js';
import { samplePath } from './samples.js';

const skip = engineSkipReason();
const admin = { name: 'admin', cn: 'admin', ou: [], sans: [], listener: 'test' };

/** Sends `target` byte for byte (no client-side cleaning) and returns status, Location and body. */
function rawGet(socketPath: string, target: string): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    const chunks: Buffer[] = [];
    sock.setTimeout(10_000, () => sock.destroy(new Error(`no answer to GET ${target}`)));
    sock.on('connect', () => sock.write(`GET ${target} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n`));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      let body = rest.join('\r\n\r\n');
      if (/^transfer-encoding: chunked/im.test(head)) body = unchunk(body);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), location: /^location: (.*)$/im.exec(head)?.[1], body });
    });
  });
}

function unchunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

const PAGE_NOT_FOUND = '{"message":"page not found"}\n';

/** `METHOD /path` with parameters reduced to their kind, `{*}`, `{+}` or `{}`, as dockerd logs them. */
function kindOf(method: string, path: string): string {
  return `${method} ${path.replace(/\{\w+:\.\*\}/g, '{*}').replace(/\{\w+:\.\+\}/g, '{+}').replace(/\{\w+\}/g, '{}')}`;
}

/** The routes in `list` by their path's first segment: only routes sharing it can match one path. */
function bySegment(list: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const r of list) {
    const seg = r.split(' ')[1]!.split('/')[1]!;
    m.set(seg, [...(m.get(seg) ?? []), r]);
  }
  return m;
}

describe('dockerd routing', { skip }, () => {
  let daemon: PrivateDaemon;
  let api: EngineApi;
  let policy: Policy;
  let version: string;
  /** The table's routes dockerd also serves versioned (and so registers like any other). */
  let versioned: Route[];
  before(async () => {
    daemon = await startEngineDaemon({ args: ['--debug'] });
    const res = await engineRequest({ socketPath: daemon.socketPath }, 'GET', '/version');
    version = (JSON.parse(res.body.toString('utf8')) as { ApiVersion: string }).ApiVersion;
    api = engineApi(version);
    policy = withApiVersion(defaultPolicy(), version);
    versioned = api.routes.routes.filter((r) => api.limits.daemon >= r.versionedSince);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('registers the same routes as the table for its version, each path in the same order', async () => {
    // dockerd --debug logs each route once, in registration order: 20.10 as `Registering METHOD,
    // PATH`, 28.x as `msg="Registering route" method=METHOD path="PATH"`. Only routes that share a
    // first path segment can match the same path, so that is the order that has to agree (where
    // 28.0 moved the grpc router, nothing else starts with /grpc).
    const log = await daemon.log();
    const registered = [
      ...[...log.matchAll(/Registering (\w+), (\S+?)"?$/gm)].map((m) => kindOf(m[1]!, m[2]!)),
      ...[...log.matchAll(/msg="Registering route" method=(\w+) path="?([^"\s]+)/gm)].map((m) => kindOf(m[1]!, m[2]!)),
    ].filter((r) => r !== 'OPTIONS /{*}'); // CORS preflight for any path: deliberately not proxied
    const ours = versioned.map((r) => `${r.method} ${r.pattern.replace(/\{\w+([*+]?)\}/g, '{$1}')}`);
    assert.deepEqual(new Set(ours), new Set(registered));
    assert.deepEqual(bySegment(ours), bySegment(registered));
  });

  it('routes exactly the (method, path) pairs the route table routes', async () => {
    const mismatches: string[] = [];
    let routed = 0;
    for (const r of versioned) {
      const path = samplePath(r);
      for (const method of HTTP_METHODS) {
        const m = api.routes.match(method, path, true);
        const ours = m.kind === 'route';
        const res = await engineRequest({ socketPath: daemon.socketPath }, method, `/v1.11${path}`);
        if (ours && m.route === r) routed++;
        if (res.status !== (ours ? 400 : 404)) mismatches.push(`${method} ${path}: dockerd ${res.status}, table ${ours ? 'routes it' : 'does not'}`);
      }
    }
    assert.deepEqual(mismatches, []);
    assert.equal(routed, versioned.length);
  });

  it('routes the debug endpoints unversioned, and versioned from API 1.48 on', async () => {
    const since148 = api.limits.daemon >= 1048;
    assert.equal((await rawGet(daemon.socketPath, '/debug/vars')).status, 200);
    assert.equal((await rawGet(daemon.socketPath, `/v${version}/debug/vars`)).status, since148 ? 200 : 404);
    assert.equal(authorize(policy, admin, 'GET', '/debug/vars').kind, 'allow');
    assert.deepEqual(
      authorize(policy, admin, 'GET', `/v${version}/debug/vars`),
      since148
        ? { kind: 'allow', route: 'GET /debug/vars', rule: 'role admin: preset:all', forwardTarget: `/v${version}/debug/vars`, identity: 'admin' }
        : { kind: 'bad', status: 404, message: `dockward: page not found: the Engine API has no route GET /v${version}/debug/vars` },
    );
  });

  it("routes by the daemon's version, not the request's: a route added after the request's version runs", async () => {
    // PUT /volumes/{name} is API 1.42: dockerd 28.5 runs it for /v1.24/ too (its handler then
    // answers, 503 without swarm); dockerd 20.10 has no such route.
    const res = await engineRequest({ socketPath: daemon.socketPath }, 'PUT', '/v1.24/volumes/v1');
    const has = api.limits.daemon >= 1042;
    assert.equal(res.status === 404 && res.body.toString() === PAGE_NOT_FOUND, !has, `${res.status} ${res.body.toString()}`);
    assert.equal(authorize(policy, admin, 'PUT', '/v1.24/volumes/v1').kind, has ? 'allow' : 'bad');
  });

  it('decodes %2F into a separator: /containers%2Fjson lists containers', async () => {
    const res = await rawGet(daemon.socketPath, '/v1.41/containers%2Fjson');
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(JSON.parse(res.body)), res.body);
    assert.equal(authorize(policy, admin, 'GET', '/v1.41/containers%2Fjson').kind, 'bad');
  });

  it('redirects unclean paths to another route than the one a naive filter sees', async () => {
    const v = `/v${version}`;
    const cases: [target: string, location: string][] = [
      [`${v}/containers/json/../../info`, `${v}/info`],
      [`${v}/%2e%2e/info`, '/info'],
      [`${v}/./info`, `${v}/info`],
      ['//info', '/info'],
      [`${v}//containers/json`, `${v}/containers/json`],
    ];
    for (const [target, location] of cases) {
      const res = await rawGet(daemon.socketPath, target);
      assert.deepEqual([res.status, res.location], [301, location], target);
      const v = authorize(policy, admin, 'GET', target);
      assert.equal(v.kind === 'bad' && v.status, 400, target);
    }
  });

  it('reads non-canonical versions and absolute-form targets as if they were canonical', async () => {
    for (const target of ['/v01.041/info', '/v1.41.0/info', '/v1.041/info', 'http://127.0.0.1/v1.41/info']) {
      const res = await rawGet(daemon.socketPath, target);
      assert.equal(res.status, 200, target);
      assert.ok('ServerVersion' in JSON.parse(res.body), target);
      const v = authorize(policy, admin, 'GET', target);
      assert.equal(v.kind === 'bad' && v.status, 400, target);
    }
  });

  it('answers decoded escapes of ordinary characters the way the rebuilt target reads', async () => {
    const v = authorize(policy, admin, 'GET', '/v1.41/in%66o');
    assert.ok(v.kind === 'allow');
    assert.equal(v.forwardTarget, '/v1.41/info');
    const raw = await rawGet(daemon.socketPath, '/v1.41/in%66o');
    const canonical = await rawGet(daemon.socketPath, v.forwardTarget);
    assert.equal(raw.status, 200);
    assert.equal(JSON.parse(raw.body).ID, JSON.parse(canonical.body).ID);
  });

  it('reads every generated target it accepts the way dockerd does, and the rebuilt target the same', async () => {
    const disagreements: string[] = [];
    let checked = 0;
    for (const raw of fuzzTargets(1000)) {
      const parsed = parseTarget(raw, api.limits);
      if (!parsed.ok) continue;
      checked++;
      const { path, version, forwardTarget } = parsed.target;
      const routed = api.routes.match('GET', path, version !== undefined).kind === 'route';
      const direct = await rawGet(daemon.socketPath, raw);
      const rebuilt = await rawGet(daemon.socketPath, forwardTarget);
      const notFound = direct.body === PAGE_NOT_FOUND;
      if (routed === notFound) disagreements.push(`${raw}: table ${routed ? 'routes' : 'does not route'} it, dockerd ${direct.status} ${direct.body.trim()}`);
      // Same status, and the same error text (which echoes the decoded name) via the rebuilt target.
      if (direct.status !== rebuilt.status || (direct.status >= 400 && direct.body !== rebuilt.body)) {
        disagreements.push(`${raw} -> ${forwardTarget}: ${direct.status} ${direct.body.trim()} vs ${rebuilt.status} ${rebuilt.body.trim()}`);
      }
    }
    assert.deepEqual(disagreements, []);
    assert.ok(checked > 100, `only ${checked} targets accepted`);
  });
});
