/**
 * The body stage against the real dockerd as the oracle: seeded generated create bodies
 * (test/api/bodies/create-bodies.ts: random key casing, case-variant duplicates, escapes, folds,
 * nulls, repeated HostConfig objects, 20.10's top-level HostConfig fields, trailing data) are
 * sent through the gateway as the tenant, every other one chunked.
 * - What the gateway lets through: the container dockerd made (inspect on its own socket) holds
 *   nothing the tenant's rules forbid, and carries the enforced no-new-privileges.
 * - What the gateway refuses: the same bytes sent straight to dockerd either fail there too or
 *   make a container that breaks a rule; only bodies the gateway cannot read exactly as dockerd
 *   (unknown keys, data after the value) may be refused otherwise, with 400.
 *
 * GOJSON_SEED replays a run; GOJSON_CASES sets how many bodies (default 300).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { engineJson, engineRequest } from '../../src/engine/engine-client.js';
import { engineSkipReason, TEST_IMAGE } from '../harness/engine.js';
import { createBody, rng, type GeneratedBody } from '../api/bodies/create-bodies.js';
import { rawPost, startGatewayFixture, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();
const SEED = Number(process.env.GOJSON_SEED ?? 20261125);
const CASES = Number(process.env.GOJSON_CASES ?? 300);
const PARALLEL = 4;

/**
 * Traits of bodies the gateway refuses with 400 because it cannot check them as dockerd reads
 * them: keys dockerd ignores (top-level HostConfig fields, after 20.10) and data after the value.
 */
const unreadable = (traits: string[], api: string) =>
  traits.some((t) => ['unknown key', 'trailing }', 'trailing value'].includes(t) || (t === 'top-level HostConfig fields' && api !== '1.41'));

type Obj = Record<string, unknown>;
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * What in a container's real HostConfig the tenant's rules (the defaults: no privilege, no
 * capabilities, no host or shared namespaces, no devices, no host paths, no sysctls, only
 * tightening security options, OomScoreAdj >= 0) forbid; undefined if nothing.
 */
function forbidden(hc: Obj): string | undefined {
  if (hc.Privileged === true) return 'privileged';
  if (list(hc.CapAdd).length) return `capabilities added: ${JSON.stringify(hc.CapAdd)}`;
  for (const f of ['NetworkMode', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode']) {
    const mode = str(hc[f]);
    if (mode === 'host' || mode.startsWith('container:')) return `${f} ${mode}`;
  }
  for (const f of ['Devices', 'DeviceCgroupRules', 'DeviceRequests']) if (list(hc[f]).length) return `${f}: ${JSON.stringify(hc[f])}`;
  const hostBinds = list(hc.Binds).filter((b) => str(b).startsWith('/'));
  if (hostBinds.length) return `host binds ${JSON.stringify(hostBinds)}`;
  const bindMounts = list(hc.Mounts).filter((m) => (m as Obj).Type === 'bind');
  if (bindMounts.length) return `bind mounts ${JSON.stringify(bindMounts)}`;
  const loosening = list(hc.SecurityOpt).filter((o) => !/^no-new-privileges([:=]true)?$/.test(str(o)));
  if (loosening.length) return `security options ${JSON.stringify(loosening)}`;
  if (Object.keys((hc.Sysctls as Obj | null) ?? {}).length) return `sysctls ${JSON.stringify(hc.Sysctls)}`;
  if (typeof hc.OomScoreAdj === 'number' && hc.OomScoreAdj < 0) return `OomScoreAdj ${hc.OomScoreAdj}`;
  return undefined;
}

describe('body differential: generated create bodies through the gateway, dockerd as the oracle', { skip }, () => {
  let f: GatewayFixture;
  let v: string;
  before(async () => {
    f = await startGatewayFixture();
    v = f.gateway.apiVersion;
  });
  after(() => f?.stop());

  /** The container's HostConfig as dockerd has it, and the container removed. */
  async function hostConfigOf(id: string): Promise<Obj> {
    const daemon = { socketPath: f.engine.socketPath };
    const inspect = await engineJson<{ HostConfig: Obj }>(daemon, 'GET', `/v${v}/containers/${id}/json`);
    await engineJson(daemon, 'DELETE', `/v${v}/containers/${id}?force=1&v=1`);
    return inspect.HostConfig;
  }

  async function runCase(n: number, { body, text, traits }: GeneratedBody, counts: Record<'allowed' | 'refusedForbidden' | 'refusedByBoth' | 'unreadable', number>): Promise<void> {
    const chunked = n % 2 === 1;
    const what = `case ${n} (${[...traits, chunked ? 'chunked' : 'sized'].join(', ')}) GOJSON_SEED=${SEED}: ${text}`;
    const answer = await rawPost(f, 'tenant', `/v${v}/containers/create`, body, { chunked });
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
    if (status === 201) {
      const hc = await hostConfigOf(/"Id":"([0-9a-f]+)"/.exec(answer)![1]!);
      assert.equal(forbidden(hc), undefined, `${what}\nthe gateway let through a container the tenant's rules forbid`);
      assert.ok(list(hc.SecurityOpt).includes('no-new-privileges'), `${what}\nno enforced no-new-privileges: ${JSON.stringify(hc.SecurityOpt)}`);
      counts.allowed++;
      return;
    }
    const byGateway = answer.includes('dockward: ');
    const direct = await engineRequest({ socketPath: f.engine.socketPath }, 'POST', `/v${v}/containers/create`, {
      body,
      headers: { 'content-type': 'application/json' },
    });
    if (direct.status !== 201) {
      counts.refusedByBoth++;
      return;
    }
    assert.ok(byGateway, `${what}\ndockerd refused what the gateway forwarded but creates the original: ${answer}`);
    const reason = forbidden(await hostConfigOf(JSON.parse(direct.body.toString()).Id as string));
    if (reason) {
      // Refused either for what it holds (403) or, first, for what the gateway cannot read (400).
      assert.ok(status === 403 || status === 400, `${what}\n${answer}`);
      counts.refusedForbidden++;
      return;
    }
    assert.ok(status === 400 && /unknown field|data after the JSON body/.test(answer) && unreadable(traits, v), `${what}\nthe gateway refused a body that breaks none of the tenant's rules: ${answer}`);
    counts.unreadable++;
  }

  it(`${CASES} generated bodies as the tenant (seed ${SEED}; GOJSON_SEED replays)`, { timeout: 300_000 }, async (t) => {
    t.diagnostic(`GOJSON_SEED=${SEED} GOJSON_CASES=${CASES} engine API ${v}`);
    const r = rng(SEED);
    const cases = Array.from({ length: CASES }, () => createBody(r, TEST_IMAGE));
    const counts = { allowed: 0, refusedForbidden: 0, refusedByBoth: 0, unreadable: 0 };
    const started = Date.now();
    // dockerd spends most of a create waiting on the disk: a few at a time keep it busy.
    let next = 0;
    const worker = async () => {
      for (let n = next++; n < CASES; n = next++) await runCase(n, cases[n]!, counts);
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const seconds = (Date.now() - started) / 1000;
    t.diagnostic(`${JSON.stringify(counts)} in ${seconds.toFixed(1)} s`);
    assert.ok(counts.allowed >= CASES / 20, `too few allowed bodies to mean anything: ${JSON.stringify(counts)}`);
    assert.ok(counts.refusedForbidden >= CASES / 20, `too few forbidden bodies to mean anything: ${JSON.stringify(counts)}`);
  });
});
