import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HTTP_METHODS, matchRoute, routeParam, ROUTES, ROUTES_BY_NAME } from '../../src/api/routes.js';
import { samplePath } from './samples.js';

function routeName(method: string, path: string, versioned = true): string {
  const m = matchRoute(method, path, versioned);
  if (m.kind === 'route') return m.route.name;
  return m.kind === 'method-not-allowed' ? `405 ${m.allowed.join(',')}` : '404';
}

describe('route table', () => {
  it('has every route once and reaches each one with a sample path (nothing shadowed)', () => {
    assert.equal(ROUTES_BY_NAME.size, ROUTES.length);
    for (const r of ROUTES) {
      const path = samplePath(r);
      assert.equal(routeName(r.method, path, !r.unversionedOnly), r.name, path);
      if (!r.unversionedOnly) assert.equal(routeName(r.method, path, false), r.name, `unversioned ${path}`);
    }
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

  it("serves dockerd's debug routes unversioned only", () => {
    assert.equal(routeName('GET', '/debug/vars', false), 'GET /debug/vars');
    assert.equal(routeName('GET', '/debug/vars', true), '404');
    assert.equal(routeName('GET', '/debug/pprof/heap', false), 'GET /debug/pprof/{name}');
  });

  it('extracts the decoded route parameter', () => {
    const m = matchRoute('GET', '/images/localhost:5000/a/b/json', true);
    assert.ok(m.kind === 'route');
    assert.equal(routeParam(m.route, '/images/localhost:5000/a/b/json'), 'localhost:5000/a/b');
    const c = matchRoute('DELETE', '/containers/c1/checkpoints/cp1', true);
    assert.ok(c.kind === 'route');
    assert.equal(routeParam(c.route, '/containers/c1/checkpoints/cp1'), 'c1');
    const e = matchRoute('GET', '/info', true);
    assert.ok(e.kind === 'route');
    assert.equal(routeParam(e.route, '/info'), undefined);
  });

  it('uses only the methods it declares', () => {
    for (const r of ROUTES) assert.ok((HTTP_METHODS as readonly string[]).includes(r.method), r.name);
  });
});
