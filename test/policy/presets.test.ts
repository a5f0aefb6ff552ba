import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROUTES } from '../../src/api/routes.js';
import { PRESETS } from '../../src/policy/index.js';

function names(preset: string): Set<string> {
  const routes = PRESETS.get(preset);
  assert.ok(routes, `preset ${preset} exists`);
  return new Set(routes.map((r) => r.name));
}

function assertHas(preset: string, has: string[], lacks: string[]): void {
  const set = names(preset);
  for (const n of has) assert.ok(set.has(n), `${preset} should allow ${n}`);
  for (const n of lacks) assert.ok(!set.has(n), `${preset} should not allow ${n}`);
}

// Routes that hand out file contents, secrets or a terminal: never in a read-only preset.
const EXFILTRATING = [
  'GET /containers/{id}/archive',
  'HEAD /containers/{id}/archive',
  'GET /containers/{id}/export',
  'GET /containers/{id}/attach/ws',
  'GET /images/get',
  'GET /images/{name}/get',
  'GET /swarm',
  'GET /swarm/unlockkey',
  'GET /configs',
  'GET /configs/{id}',
  'GET /services/{id}/logs',
  'GET /tasks/{id}/logs',
  'GET /debug/vars',
];

describe('presets', () => {
  it('are exactly the documented set', () => {
    assert.deepEqual(
      [...PRESETS.keys()].sort(),
      ['all', 'build', 'ci-runner', 'containers', 'containers-read', 'exec', 'images', 'networks', 'plugins', 'read-only', 'swarm', 'system', 'volumes'],
    );
  });

  it("ci-runner: a CI job's toolbox, and nothing of swarm, plugins or the debug routes", () => {
    const ci = names('ci-runner');
    for (const preset of ['system', 'containers', 'exec', 'images', 'build', 'volumes', 'networks']) {
      for (const r of names(preset)) assert.ok(ci.has(r), `ci-runner lacks ${r}`);
    }
    for (const r of [...names('swarm'), ...names('plugins'), 'GET /debug/vars']) assert.ok(!ci.has(r), `ci-runner has ${r}`);
  });

  it('system: ping, version, info, events, df', () => {
    assert.deepEqual([...names('system')].sort(), ['GET /_ping', 'GET /events', 'GET /info', 'GET /system/df', 'GET /version', 'HEAD /_ping']);
  });

  it('read-only: what ps/inspect/images/info/stats need, only GET/HEAD, no logs, cp, export or secrets', () => {
    assertHas(
      'read-only',
      [
        ...names('system'),
        'GET /containers/json',
        'GET /containers/{id}/json',
        'GET /containers/{id}/top',
        'GET /containers/{id}/stats',
        'GET /images/json',
        'GET /images/{name}/json',
        'GET /networks',
        'GET /volumes/{name}',
        'GET /services',
        'GET /secrets/{id}',
      ],
      [...EXFILTRATING, 'GET /containers/{id}/logs', 'GET /images/search', 'GET /distribution/{name}/json', 'GET /plugins/privileges'],
    );
    for (const r of PRESETS.get('read-only')!) assert.ok(r.method === 'GET' || r.method === 'HEAD', r.name);
  });

  it('containers-read: the container part of read-only plus logs', () => {
    assertHas('containers-read', ['GET /containers/json', 'GET /containers/{id}/json', 'GET /containers/{id}/logs'], EXFILTRATING);
    const readOnly = names('read-only');
    for (const n of names('containers-read')) assert.ok(readOnly.has(n) || n === 'GET /containers/{id}/logs', n);
  });

  it('containers: the whole container lifecycle but not exec', () => {
    const set = names('containers');
    for (const r of ROUTES.filter((x) => x.template.startsWith('/containers/') && x.name !== 'POST /containers/{id}/exec')) {
      assert.ok(set.has(r.name), r.name);
    }
    assertHas('containers', ['POST /commit', 'PUT /containers/{id}/archive', 'DELETE /containers/{id}'], [
      'POST /containers/{id}/exec',
      'POST /exec/{id}/start',
      'POST /images/create',
    ]);
  });

  it('exec: creating, starting, resizing and inspecting execs', () => {
    assert.deepEqual([...names('exec')].sort(), [
      'GET /exec/{id}/json',
      'POST /containers/{id}/exec',
      'POST /exec/{id}/resize',
      'POST /exec/{id}/start',
    ]);
  });

  it('images, build, networks, volumes, swarm, plugins cover their areas', () => {
    assertHas('images', ['POST /images/create', 'GET /images/get', 'DELETE /images/{name}', 'GET /distribution/{name}/json', 'POST /auth'], ['POST /build']);
    assert.deepEqual([...names('build')].sort(), ['POST /build', 'POST /build/cancel', 'POST /build/prune', 'POST /grpc', 'POST /session']);
    assertHas('networks', ['GET /networks', 'GET /networks/', 'POST /networks/{id}/connect', 'DELETE /networks/{id}'], ['GET /volumes']);
    assertHas('volumes', ['GET /volumes', 'POST /volumes/create', 'DELETE /volumes/{name}'], ['GET /networks']);
    assertHas('swarm', ['POST /swarm/init', 'GET /swarm/unlockkey', 'POST /services/create', 'GET /configs/{id}', 'DELETE /nodes/{id}'], ['GET /info']);
    assertHas('plugins', ['POST /plugins/pull', 'GET /plugins'], ['GET /info']);
  });

  it('all: every route; every route but the debug ones is in some narrower preset', () => {
    assert.equal(names('all').size, ROUTES.length);
    const covered = new Set([...PRESETS].filter(([n]) => n !== 'all').flatMap(([, rs]) => rs.map((r) => r.name)));
    const uncovered = ROUTES.filter((r) => !covered.has(r.name)).map((r) => r.name);
    assert.deepEqual(uncovered, ROUTES.filter((r) => r.template.startsWith('/debug/')).map((r) => r.name));
  });
});
