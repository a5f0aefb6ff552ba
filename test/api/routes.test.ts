import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HTTP_METHODS, routeExists, routeParam, ROUTES, ROUTES_BY_NAME, ROUTES_KNOWN_THROUGH, routeTable } from '../../src/api/routes.js';
import { apiVersionNumber, NEWEST_API_VERSION } from '../../src/api/versions.js';
import { samplePath } from './samples.js';

const V1_41 = apiVersionNumber('1.41'); // dockerd 20.10
const NEWEST = apiVersionNumber(NEWEST_API_VERSION); // dockerd 28.5
const newest = routeTable(NEWEST);

function routeName(method: string, path: string, versioned = true, table = newest): string {
  const m = table.match(method, path, versioned);
  if (m.kind === 'route') return m.route.name;
  return m.kind === 'method-not-allowed' ? `405 ${m.allowed.join(',')}` : '404';
}

describe('route table', () => {
  it('has every route once and, on every daemon that has it, reaches it with a sample path (nothing shadowed)', () => {
    assert.equal(ROUTES_BY_NAME.size, ROUTES.length);
    for (const v of ['1.41', '1.42', '1.44', '1.45', '1.47', '1.48', NEWEST_API_VERSION, '1.54', ROUTES_KNOWN_THROUGH, '1.60']) {
      const daemon = apiVersionNumber(v);
      const table = routeTable(daemon);
      assert.deepEqual(table.routes, ROUTES.filter((r) => routeExists(r, daemon)), v);
      for (const r of table.routes) {
        const path = samplePath(r);
        assert.equal(routeName(r.method, path, false, table), r.name, `${v}: unversioned ${path}`);
        const versioned = daemon >= r.versionedSince;
        assert.equal(routeName(r.method, path, true, table) === r.name, versioned, `${v}: versioned ${path}`);
      }
    }
  });

  it("knows each route's API versions: added, removed, versioned", () => {
    const has = (name: string, v: string) => routeTable(apiVersionNumber(v)).routes.includes(ROUTES_BY_NAME.get(name)!);
    // Cluster volumes: dockerd 23.0 (API 1.42).
    assert.equal(has('PUT /volumes/{name}', '1.41'), false);
    assert.equal(has('PUT /volumes/{name}', '1.42'), true);
    assert.equal(routeName('PUT', '/volumes/v1', true, routeTable(V1_41)), '405 GET,DELETE');
    assert.equal(routeName('PUT', '/volumes/v1'), 'PUT /volumes/{name}');
    // The copy endpoint: gone in dockerd 26.0 (API 1.45).
    assert.equal(has('POST /containers/{id}/copy', '1.44'), true);
    assert.equal(has('POST /containers/{id}/copy', '1.45'), false);
    assert.equal(routeName('POST', '/containers/c1/copy'), '405 DELETE');
    // Attestations: dockerd 29.6 (API 1.55); before it, DELETE /images/{name} owns the path.
    assert.equal(routeName('GET', '/images/busybox/attestations'), '405 DELETE');
    assert.equal(routeName('GET', '/images/busybox/attestations', true, routeTable(apiVersionNumber('1.55'))), 'GET /images/{name}/attestations');
    // Debug routes: unversioned and any method until 27.x, ordinary GET routes from 28.0 (1.48).
    assert.equal(has('POST /debug/pprof/{name}', '1.47'), true);
    assert.equal(has('POST /debug/pprof/{name}', '1.48'), false);
    assert.equal(routeName('GET', '/debug/vars', true, routeTable(apiVersionNumber('1.47'))), '404');
    assert.equal(routeName('GET', '/debug/vars', true), 'GET /debug/vars');
  });

  it('matches greedy names across "/" like gorilla/mux {name:.*}', () => {
    assert.equal(routeName('GET', '/images/localhost:5000/a/b/json'), 'GET /images/{name}/json');
    assert.equal(routeName('GET', '/images/json'), 'GET /images/json');
    assert.equal(routeName('GET', '/images/json/json'), 'GET /images/{name}/json');
    assert.equal(routeName('GET', '/containers/a/logs/json'), 'GET /containers/{id}/json');
    assert.equal(routeName('DELETE', '/images/a/b/c'), 'DELETE /images/{name}');
    assert.equal(routeName('GET', '/distribution/docker.io/library/busybox/json'), 'GET /distribution/{name}/json');
    // {name:.*} may be empty: dockerd routes these too (and then fails the lookup).
    assert.equal(routeName('GET', '/volumes/'), 'GET /volumes/{name}');
    assert.equal(routeName('GET', '/containers//json'), 'GET /containers/{id}/json');
  });

  it('keeps segment parameters to one segment', () => {
    assert.equal(routeName('GET', '/services/abc'), 'GET /services/{id}');
    assert.equal(routeName('GET', '/services/a/b'), '404');
    assert.equal(routeName('GET', '/services/'), '404');
    assert.equal(routeName('GET', '/tasks/a/logs'), 'GET /tasks/{id}/logs');
    assert.equal(routeName('GET', '/tasks/a/b/logs'), '404');
  });

  it('takes the first registered route, as dockerd does', () => {
    // The checkpoint route is registered before DELETE /containers/{name:.*}.
    assert.equal(routeName('DELETE', '/containers/c1/checkpoints/cp1'), 'DELETE /containers/{id}/checkpoints/{checkpoint}');
    assert.equal(routeName('DELETE', '/containers/c1/checkpoints/a/b'), 'DELETE /containers/{id}');
    assert.equal(routeName('GET', '/networks/'), 'GET /networks/');
    assert.equal(routeName('GET', '/networks/n1'), 'GET /networks/{id}');
  });

  it('tells an unknown path (404) from a known path with another method (405)', () => {
    assert.equal(routeName('GET', '/nope'), '404');
    assert.equal(routeName('GET', '/'), '404');
    assert.equal(routeName('GET', '/containers'), '404');
    assert.equal(routeName('GET', '/containers/json/'), '405 DELETE');
    assert.equal(routeName('POST', '/info'), '405 GET');
    assert.equal(routeName('PATCH', '/_ping'), '405 GET,HEAD');
    assert.equal(routeName('get', '/_ping'), '405 GET,HEAD');
    assert.equal(routeName('PUT', '/containers/c1/archive'), 'PUT /containers/{id}/archive');
    assert.equal(routeName('HEAD', '/containers/c1/archive'), 'HEAD /containers/{id}/archive');
    assert.equal(routeName('HEAD', '/info'), '405 GET');
  });

  it("serves dockerd 20.10's debug routes unversioned only", () => {
    const old = routeTable(V1_41);
    assert.equal(routeName('GET', '/debug/vars', false, old), 'GET /debug/vars');
    assert.equal(routeName('GET', '/debug/vars', true, old), '404');
    assert.equal(routeName('GET', '/debug/pprof/heap', false, old), 'GET /debug/pprof/{name}');
    assert.equal(routeName('POST', '/debug/pprof/symbol', false, old), 'POST /debug/pprof/{name}');
  });

  it('extracts the decoded route parameter', () => {
    const m = newest.match('GET', '/images/localhost:5000/a/b/json', true);
    assert.ok(m.kind === 'route');
    assert.equal(routeParam(m.route, '/images/localhost:5000/a/b/json'), 'localhost:5000/a/b');
    const c = newest.match('DELETE', '/containers/c1/checkpoints/cp1', true);
    assert.ok(c.kind === 'route');
    assert.equal(routeParam(c.route, '/containers/c1/checkpoints/cp1'), 'c1');
    const e = newest.match('GET', '/info', true);
    assert.ok(e.kind === 'route');
    assert.equal(routeParam(e.route, '/info'), undefined);
  });

  it('uses only the methods it declares', () => {
    for (const r of ROUTES) assert.ok((HTTP_METHODS as readonly string[]).includes(r.method), r.name);
  });
});
