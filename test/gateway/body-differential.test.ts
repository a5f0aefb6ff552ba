// engines: trixie
/**
 * The body stage against the real dockerd as the oracle: seeded generated create bodies
 * (test/api/bodies/create-bodies.ts: random key casing, case-variant duplicates, escapes, folds,
 * nulls, repeated HostConfig objects, the wrapper's top-level HostConfig fields, trailing data) are
 * sent through the gateway as the tenant (default rules) or as lab (a few things granted), every
 * other one chunked.
 * - What the gateway lets through: the container dockerd made (inspect on its own socket) holds
 *   nothing the identity's rules forbid, and carries the enforced no-new-privileges.
 * - What the gateway refuses: the same bytes sent straight to dockerd either fail there too or
 *   make a container that breaks a rule; only bodies the gateway cannot read exactly as dockerd
 *   (unknown keys, data after the value) may be refused otherwise, with 400.
 *
 * GOJSON_SEED replays a run; GOJSON_CASES sets how many bodies (default 300).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { containerCreateType } from '../../src/api/bodies/container-create.js';
import { flatten } from '../../src/api/gojson/fields.js';
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
 * them: keys dockerd ignores (top-level HostConfig fields, where the daemon's create body is not
 * runconfig.ContainerConfigWrapper: 28.5) and data after the value.
 */
const unreadable = (traits: string[], api: string) =>
  traits.some((t) => ['unknown key', 'trailing }', 'trailing value'].includes(t) || (t === 'top-level HostConfig fields' && !flatten(containerCreateType(api)!).byName.has('Privileged')));

type Obj = Record<string, unknown>;
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * The container rules of the identities the bodies are sent as (fixture.ts), restated here
 * independently of the gateway's code: `tenant` has the defaults (no privilege, no capabilities,
 * no host or shared namespaces, no devices, no host paths, no sysctls, only tightening security
 * options, OomScoreAdj >= 0, no ulimits); `lab` may add three capabilities, set kernel.* sysctls, disable
 * SELinux labels, bind /var/tmp read-only and lower OomScoreAdj to -250.
 */
interface Rules {
  capabilities: ReadonlySet<string>;
  sysctl: (name: string) => boolean;
  securityOptions: ReadonlySet<string>;
  minOomScoreAdj: number;
  readOnlyBinds: readonly string[];
}
const RULES: Record<'tenant' | 'lab', Rules> = {
  tenant: { capabilities: new Set(), sysctl: () => false, securityOptions: new Set(), minOomScoreAdj: 0, readOnlyBinds: [] },
  lab: {
    capabilities: new Set(['NET_ADMIN', 'CHOWN', 'NET_RAW']),
    sysctl: (name) => name.startsWith('kernel.'),
    securityOptions: new Set(['label=disable']),
    minOomScoreAdj: -250,
    readOnlyBinds: ['/var/tmp'],
  },
};

/** What in a container's real HostConfig the rules forbid; undefined if nothing. */
function forbidden(hc: Obj, rules: Rules): string | undefined {
  if (hc.Privileged === true) return 'privileged';
  // dockerd keeps CapAdd as sent; it upper-cases (ſ too) and adds CAP_ when it builds the spec.
  const caps = list(hc.CapAdd).filter((c) => !rules.capabilities.has(str(c).toUpperCase().replace(/^CAP_/, '')));
  if (caps.length) return `capabilities added: ${JSON.stringify(caps)}`;
  for (const f of ['NetworkMode', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode']) {
    const mode = str(hc[f]);
    if (mode === 'host' || mode.startsWith('container:')) return `${f} ${mode}`;
  }
  for (const f of ['Devices', 'DeviceCgroupRules', 'DeviceRequests']) if (list(hc[f]).length) return `${f}: ${JSON.stringify(hc[f])}`;
  const hostBinds = list(hc.Binds).filter((b) => {
    const [source = '', , mode = ''] = str(b).split(':');
    const granted = rules.readOnlyBinds.some((p) => source === p || source.startsWith(`${p}/`));
    return source.startsWith('/') && !(granted && mode.split(',').includes('ro'));
  });
  if (hostBinds.length) return `host binds ${JSON.stringify(hostBinds)}`;
  const bindMounts = list(hc.Mounts).filter((m) => (m as Obj).Type === 'bind');
  if (bindMounts.length) return `bind mounts ${JSON.stringify(bindMounts)}`;
  const loosening = list(hc.SecurityOpt).filter((o) => !/^no-new-privileges([:=]true)?$/.test(str(o)) && !rules.securityOptions.has(str(o)));
  if (loosening.length) return `security options ${JSON.stringify(loosening)}`;
  const sysctls = Object.keys((hc.Sysctls as Obj | null) ?? {}).filter((n) => !rules.sysctl(n));
  if (sysctls.length) return `sysctls ${JSON.stringify(sysctls)}`;
  if (typeof hc.OomScoreAdj === 'number' && hc.OomScoreAdj < rules.minOomScoreAdj) return `OomScoreAdj ${hc.OomScoreAdj}`;
  // Neither identity is granted a ulimit (maxUlimits: {}).
  if (list(hc.Ulimits).length) return `ulimits ${JSON.stringify(hc.Ulimits)}`;
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
    const who = (n >> 1) % 2 === 0 ? 'tenant' : 'lab';
    const what = `case ${n} as ${who} (${[...traits, chunked ? 'chunked' : 'sized'].join(', ')}) GOJSON_SEED=${SEED}: ${text}`;
    const answer = await rawPost(f, who, `/v${v}/containers/create`, body, { chunked });
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
    if (status === 201) {
      const hc = await hostConfigOf(/"Id":"([0-9a-f]+)"/.exec(answer)![1]!);
      assert.equal(forbidden(hc, RULES[who]), undefined, `${what}\nthe gateway let through a container the rules of ${who} forbid`);
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
    const reason = forbidden(await hostConfigOf(JSON.parse(direct.body.toString()).Id as string), RULES[who]);
    if (reason) {
      // Refused either for what it holds (403) or, first, for what the gateway cannot read (400).
      assert.ok(status === 403 || status === 400, `${what}\n${answer}`);
      counts.refusedForbidden++;
      return;
    }
    assert.ok(status === 400 && /unknown field|data after the JSON body/.test(answer) && unreadable(traits, v), `${what}\nthe gateway refused a body that breaks none of the rules of ${who}: ${answer}`);
    counts.unreadable++;
  }

  it(`${CASES} generated bodies as two constrained identities (seed ${SEED}; GOJSON_SEED replays)`, { timeout: 300_000 }, async (t) => {
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
