/**
 * API versions through the gateway, against the real dockerd under test and the real docker CLI:
 * an identity the policy does not know hears that before anything about versions; requests up
 * to the daemon's version pass and newer ones are refused; and a gateway that knows less than
 * its daemon (its newest set one minor below the daemon's, standing in for a dockerd newer than
 * dockward) refuses the versions it does not know, pins unversioned requests to its own newest
 * and advertises that in Api-Version, so the docker CLI negotiates down and works.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { apiVersionNumber, formatVersion } from '../../src/api/versions.js';
import { engineRequest } from '../../src/engine/engine-client.js';
import { startGateway, type Gateway } from '../../src/gateway/server.js';
import { issueClient } from '../../src/pki/index.js';
import { loadPolicyFile } from '../../src/policy/index.js';
import { engineSkipReason, runDocker } from '../harness/engine.js';
import type { AuditRecord } from '../../src/gateway/audit-log.js';
import { clientTls, rawExchange, startGatewayFixture, until, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();
const run = promisify(execFile);

function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
}

function bodyOf(answer: string): string {
  return answer.slice(answer.indexOf('\r\n\r\n') + 4);
}

describe('API versions through the gateway', { skip, timeout: 300_000 }, () => {
  let f: GatewayFixture;
  let daemon: string;
  before(async () => {
    f = await startGatewayFixture();
    daemon = f.gateway.apiVersion;
    await issueClient({ dir: f.pki, name: 'stranger', onWarning: () => undefined });
  });
  after(async () => f?.stop());

  it('tells an identity the policy does not know who it is not, before anything about API versions', async () => {
    // The CLI's first /_ping is refused, so it falls back to its own default version (1.50 for
    // CLI 28), which dockerd 20.10 does not speak: the identity refusal must still be what it sees.
    const r = await f.docker('stranger', ['ps']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error response from daemon: dockward: identity "stranger" may not GET \/containers\/json \(no identity in policy .* matches it; default deny\)/);
    assert.doesNotMatch(r.stderr, /too new/);
  });

  it("accepts the daemon's API version and refuses a newer one", async () => {
    const admin = await clientTls(f, 'admin');
    const ok = await rawExchange(admin, `GET /v${daemon}/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(ok), 200);
    const next = formatVersion(apiVersionNumber(daemon) + 1);
    const tooNew = await rawExchange(admin, `GET /v${next}/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(tooNew), 400);
    assert.equal(JSON.parse(bodyOf(tooNew)).message, `dockward: bad request target: client API version ${next} is too new; the daemon supports up to ${daemon}`);
    const ping = await rawExchange(admin, 'HEAD /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(ping, new RegExp(`\r\nApi-Version: ${daemon.replace('.', '\\.')}\r\n`, 'i'));
  });

  it("routes a request by the daemon's version, not the request's, and answers what dockerd answers", async () => {
    // PUT /volumes/{name} was added in API 1.42: dockerd 28.5 runs it for a /v1.24/ request too
    // (503 here: no swarm), dockerd 20.10 has no such route.
    const direct = await engineRequest({ socketPath: f.engine.socketPath }, 'PUT', '/v1.24/volumes/v1');
    const via = await rawExchange(await clientTls(f, 'admin'), 'PUT /v1.24/volumes/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    if (apiVersionNumber(daemon) >= apiVersionNumber('1.42')) {
      assert.equal(statusOf(via), direct.status);
      assert.equal(bodyOf(via), direct.body.toString());
    } else {
      assert.equal(direct.status, 404);
      assert.equal(statusOf(via), 405);
      assert.match(JSON.parse(bodyOf(via)).message, /method PUT is not allowed on \/v1\.24\/volumes\/v1/);
    }
  });

  describe('in front of a daemon newer than the gateway', () => {
    let gw: Gateway;
    let older: string;
    let socket: string;
    let auditPath: string;
    const audit = async () =>
      (await readFile(auditPath, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as AuditRecord);
    before(async () => {
      older = formatVersion(apiVersionNumber(daemon) - 1);
      socket = join(f.dir, 'older-gw.sock');
      auditPath = join(f.dir, 'older-audit.log');
      gw = await startGateway({
        upstreamSocket: f.engine.socketPath,
        listeners: [{ kind: 'unix', path: socket, identity: 'sidecar', mode: 0o600 }],
        policy: await loadPolicyFile(join(f.dir, 'policy.yaml')),
        auditLog: auditPath,
        log: () => undefined,
        newestApiVersion: older,
      });
    });
    after(async () => gw?.close(100));

    it('advertises its own newest version, so the docker CLI negotiates down to it and works', async () => {
      const ping = await runDocker(['-H', `unix://${socket}`, 'version', '--format', '{{.Client.APIVersion}} {{.Server.APIVersion}}']);
      assert.equal(ping.code, 0, ping.stderr);
      // The client negotiated the gateway's version; the server's own (from /version) is the truth.
      assert.equal(ping.stdout.trim(), `${older} ${daemon}`);
      const ps = await runDocker(['-H', `unix://${socket}`, 'ps', '-a']);
      assert.equal(ps.code, 0, ps.stderr);
      const paths = (await audit()).map((r) => r.path);
      assert.ok(paths.includes(`/v${older}/containers/json`), paths.join(' '));
      assert.ok(!paths.some((p) => p?.startsWith(`/v${daemon}/`)), paths.join(' '));
    });

    it('refuses requests for the versions it does not know, naming its version and the daemon', async () => {
      const r = await runDocker(['-H', `unix://${socket}`, 'ps'], { env: { DOCKER_API_VERSION: daemon } });
      assert.notEqual(r.code, 0);
      assert.ok(
        r.stderr.includes(`client API version ${daemon} is newer than the gateway knows: it accepts up to ${older} (dockerd speaks ${daemon})`),
        r.stderr,
      );
    });

    it('forwards unversioned requests at its own newest version, so what it checked is what runs', async () => {
      const before = (await audit()).length;
      const ping = (await run('curl', ['-sS', '-i', '--max-time', '10', '--unix-socket', socket, 'http://x/_ping'])).stdout;
      assert.match(ping, new RegExp(`\r\nApi-Version: ${older.replace('.', '\\.')}\r\n`, 'i'));
      await until('the audit line', async () => (await audit()).length > before, 3000);
      const rec = (await audit()).slice(before).find((x) => x.route === 'GET /_ping');
      assert.equal(rec?.path, `/v${older}/_ping`);
    });
  });
});
