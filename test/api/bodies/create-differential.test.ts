// engines: trixie
/**
 * The real dockerd as the oracle for the decoder: seeded generated create bodies
 * (create-bodies.ts) are sent to the daemon's own socket; the daemon's state (inspect) must be
 * the decoder's canonical view for the security-relevant fields, and the canonical re-encoding,
 * sent instead, must give the same state. Containers are only created, never started.
 *
 * GOJSON_SEED replays a run; GOJSON_CASES sets how many bodies (default 200).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { engineSkipReason, startTestEngine, TEST_IMAGE, type TestEngine } from '../../harness/engine.js';
import { decodeContainerCreate } from '../../../src/api/bodies/container-create.js';
import { encode } from '../../../src/api/gojson/encode.js';
import { GoJsonError } from '../../../src/api/gojson/decode.js';
import { flatten } from '../../../src/api/gojson/fields.js';
import type { StructType } from '../../../src/api/gojson/types.js';
import { lookup, zero } from '../../../src/api/gojson/value.js';
import { createBody, rng } from './create-bodies.js';
import { call } from './daemon-api.js';

const skip = engineSkipReason();
const SEED = Number(process.env.GOJSON_SEED ?? 20261125);
const CASES = Number(process.env.GOJSON_CASES ?? 200);
/** Cases in flight at once. */
const PARALLEL = 4;

/** HostConfig fields compared between the daemon and the decoder. */
const COMPARED = [
  'Privileged', 'CapAdd', 'CapDrop', 'Binds', 'Mounts', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode',
  'NetworkMode', 'Devices', 'SecurityOpt', 'Sysctls', 'ReadonlyRootfs', 'OomScoreAdj', 'PidsLimit', 'Init',
  'Memory', 'Tmpfs', 'Ulimits',
];
/** Fields the daemon fills with its default when the body leaves them empty. */
const DEFAULTED = new Set(['IpcMode', 'NetworkMode']);

/** The DriverOpts of the container's endpoint on the network "none", as inspect shows them. */
function noneDriverOpts(inspect: Record<string, unknown>): unknown {
  return (inspect.NetworkSettings as { Networks: Record<string, { DriverOpts?: unknown }> }).Networks.none?.DriverOpts ?? null;
}

describe('container create bodies: the decoder agrees with dockerd', { skip }, () => {
  let engine: TestEngine;
  let api: string;
  before(async () => {
    engine = await startTestEngine();
    api = JSON.parse((await call(engine.socketPath, 'GET', '/version')).body).ApiVersion;
  });
  after(async () => {
    await engine?.stop();
  });

  /** Creates, inspects and removes a container; the inspect JSON, or the refusal. */
  async function create(body: string | Buffer): Promise<{ status: number; inspect?: Record<string, unknown>; message?: string }> {
    const res = await call(engine.socketPath, 'POST', `/v${api}/containers/create`, body);
    if (res.status !== 201) return { status: res.status, message: res.body.trim() };
    const id = JSON.parse(res.body).Id as string;
    const inspect = JSON.parse((await call(engine.socketPath, 'GET', `/v${api}/containers/${id}/json`)).body);
    const removed = await call(engine.socketPath, 'DELETE', `/v${api}/containers/${id}?force=1&v=1`);
    assert.equal(removed.status, 204, `removing ${id}: ${removed.body}`);
    return { status: 201, inspect };
  }

  /** One generated body through the decoder and the daemon: who creates, and whether they agree. */
  async function check(n: number, { body, text, traits }: ReturnType<typeof createBody>): Promise<'created' | 'refused'> {
    const what = `case ${n} (${traits.join(', ') || 'plain'}) GOJSON_SEED=${SEED}: ${text}`;
    let ours: ReturnType<typeof decodeContainerCreate> | undefined;
    try {
      ours = decodeContainerCreate(body, api);
    } catch (e) {
      if (!(e instanceof GoJsonError)) throw e;
    }
    const theirs = await create(body);
    const refusedByGo = api !== '1.41' && ours?.decoded.rest === 'content';
    if (!ours || refusedByGo) {
      assert.notEqual(theirs.status, 201, `${what}\nthe decoder refuses this body, dockerd created a container`);
      return 'refused';
    }
    assert.equal(theirs.status, 201, `${what}\nthe decoder accepts this body, dockerd answered ${theirs.status} ${theirs.message}`);
    const hcType = ours.type.fields.find((f) => f.tagName === 'HostConfig')!.type;
    const hostType = (hcType.kind === 'ptr' ? hcType.elem : hcType) as StructType;
    // No HostConfig sent: dockerd goes on with an empty one.
    const view = JSON.parse(encode(ours.hostConfig ?? zero(hostType), hostType));
    const daemonHc = theirs.inspect!.HostConfig as Record<string, unknown>;
    // dockerd's own addition (daemon/create.go): host IPC or PID namespaces, or privileged, disable SELinux labels.
    const hostNs = view.IpcMode === 'host' || view.PidMode === 'host' || view.Privileged;
    if (hostNs && !view.SecurityOpt?.includes('label=disable')) view.SecurityOpt = [...(view.SecurityOpt ?? []), 'label=disable'];
    for (const f of COMPARED) {
      if (!flatten(hostType).byName.has(f)) continue;
      if (DEFAULTED.has(f) && !view[f]) continue;
      assert.deepEqual(daemonHc[f] ?? null, view[f] ?? null, `${what}\nHostConfig.${f}: dockerd has ${JSON.stringify(daemonHc[f])}, the decoder ${JSON.stringify(view[f])}`);
    }
    const labels = lookup(ours.decoded.value, ours.type, ['Labels']);
    if (labels?.value) {
      const daemonLabels = (theirs.inspect!.Config as Record<string, unknown>).Labels;
      assert.deepEqual(daemonLabels, JSON.parse(encode(labels.value, labels.type)), `${what}\nConfig.Labels differ`);
    }
    const driverOpts = lookup(ours.decoded.value, ours.type, ['NetworkingConfig', 'EndpointsConfig', 'none', 'DriverOpts']);
    if (driverOpts) {
      assert.deepEqual(noneDriverOpts(theirs.inspect!), JSON.parse(encode(driverOpts.value, driverOpts.type)), `${what}\nEndpointsConfig.none.DriverOpts differ`);
    }
    const canonical = encode(ours.decoded.value, ours.type);
    const again = await create(canonical);
    assert.equal(again.status, 201, `${what}\nthe canonical body was refused: ${again.message}\n${canonical}`);
    for (const f of COMPARED) {
      assert.deepEqual((again.inspect!.HostConfig as Record<string, unknown>)[f], daemonHc[f], `${what}\ncanonical ${canonical}\nHostConfig.${f} differs`);
    }
    assert.deepEqual(noneDriverOpts(again.inspect!), noneDriverOpts(theirs.inspect!), `${what}\ncanonical ${canonical}\nDriverOpts differ`);
    for (const f of ['Cmd', 'User', 'Labels']) {
      assert.deepEqual((again.inspect!.Config as Record<string, unknown>)[f], (theirs.inspect!.Config as Record<string, unknown>)[f], `${what}\ncanonical ${canonical}\nConfig.${f} differs`);
    }
    return 'created';
  }

  it(`${CASES} generated bodies (seed ${SEED}; GOJSON_SEED replays)`, { timeout: 600_000 }, async (t) => {
    t.diagnostic(`GOJSON_SEED=${SEED} GOJSON_CASES=${CASES} engine API ${api}`);
    const r = rng(SEED);
    // Generated in order (the seed replays them), checked a few at a time: each case is
    // independent, and dockerd creates concurrently.
    const cases = Array.from({ length: CASES }, () => createBody(r, TEST_IMAGE));
    const counts = { created: 0, refused: 0 };
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const n = next++;
        counts[await check(n, cases[n]!)]++;
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    t.diagnostic(`created ${counts.created}, refused by both ${counts.refused}`);
    assert.ok(counts.created > CASES / 2, 'most generated bodies should create a container');
  });
});
