/**
 * Generated sequences: three tenants create, rename, remove, exec into and connect containers in
 * a seeded random order, naming their own and each other's objects by full id, id prefix and
 * name. After every step the daemon's real state is compared with a model of what each tenant
 * owns: no tenant ever acted on or listed another's object. The seed is printed on failure
 * (DOCKWARD_SEQUENCE_SEED=N replays one).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { engineJson } from '../../src/engine/engine-client.js';
import { rng } from '../api/bodies/create-bodies.js';
import { engineSkipReason, TEST_IMAGE } from '../harness/engine.js';
import { clientTls, startGatewayFixture, TENANTS, TENANTS_POLICY, removeContainersAndNetworks, type GatewayFixture } from '../gateway/fixture.js';

const skip = engineSkipReason();
const STEPS = 40;
const NAMES = ['web', 'db', 'app'];
const NETWORKS = ['n1', 'n2'];

interface Box {
  id: string;
  owner: string;
  name: string;
  networks: Set<string>;
}

describe('generated sequences of three tenants on one daemon', { skip }, () => {
  let f: GatewayFixture;
  const tls = new Map<string, Awaited<ReturnType<typeof clientTls>>>();

  const call = (who: string, method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = https.request(
        { ...tls.get(who)!, method, path: `${f.api}${path}`, agent: false, headers: { 'Content-Type': 'application/json', 'Content-Length': String(payload?.length ?? 0) } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });

  before(async () => {
    f = await startGatewayFixture(TENANTS_POLICY);
    for (const t of TENANTS) tls.set(t, await clientTls(f, t));
    for (const t of TENANTS) {
      for (const n of NETWORKS) assert.equal((await call(t, 'POST', '/networks/create', { Name: n })).status, 201);
    }
  });
  after(async () => {
    if (!f) return;
    await removeContainersAndNetworks(f);
    await f.stop();
  });

  it(`${STEPS} random steps; the daemon's state matches the model after each`, async () => {
    const seed = Number(process.env.DOCKWARD_SEQUENCE_SEED ?? Date.now() % 100_000);
    const rnd = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const boxes: Box[] = [];
    const log: string[] = [];
    const mine = (t: string) => boxes.filter((b) => b.owner === t);
    /** A reference to `b` as tenant `t` would write it, and the box it means to `t` (undefined: none). */
    const refTo = (t: string, b: Box): [string, Box | undefined] => {
      const form = pick(['id', 'prefix', 'name'] as const);
      if (form === 'name') return [b.name, mine(t).find((m) => m.name === b.name)];
      const ref = form === 'id' ? b.id : b.id.slice(0, 12);
      return [ref, b.owner === t ? b : undefined];
    };
    const expect = (what: string, got: { status: number; body: string }, status: number) => {
      assert.equal(got.status, status, `seed ${seed}, step ${log.length}: ${what}: ${got.body}\n${log.join('\n')}`);
    };

    for (let step = 0; step < STEPS; step++) {
      const t = pick(TENANTS);
      const op = boxes.length === 0 ? 'create' : pick(['create', 'create', 'rename', 'rm', 'exec', 'connect'] as const);
      if (op === 'create') {
        const name = pick(NAMES);
        log.push(`${t} create ${name}`);
        const res = await call(t, 'POST', `/containers/create?name=${name}`, { Image: TEST_IMAGE, Cmd: ['sleep', '600'], HostConfig: { NetworkMode: 'n1' } });
        if (mine(t).some((b) => b.name === name)) {
          expect(log.at(-1)!, res, 409);
          continue;
        }
        expect(log.at(-1)!, res, 201);
        const id = (JSON.parse(res.body) as { Id: string }).Id;
        expect(`${t} start ${name}`, await call(t, 'POST', `/containers/${name}/start`), 204);
        boxes.push({ id, owner: t, name, networks: new Set(['n1']) });
      } else {
        const [ref, target] = refTo(t, pick(boxes));
        if (op === 'rename') {
          const name = pick(NAMES);
          if (target?.name === name) continue;
          log.push(`${t} rename ${ref} ${name}`);
          const res = await call(t, 'POST', `/containers/${ref}/rename?name=${name}`);
          if (!target) expect(log.at(-1)!, res, 404);
          else if (mine(t).some((b) => b.name === name)) expect(log.at(-1)!, res, 409);
          else {
            expect(log.at(-1)!, res, 204);
            target.name = name;
          }
        } else if (op === 'rm') {
          log.push(`${t} rm ${ref}`);
          const res = await call(t, 'DELETE', `/containers/${ref}?force=1`);
          expect(log.at(-1)!, res, target ? 204 : 404);
          if (target) boxes.splice(boxes.indexOf(target), 1);
        } else if (op === 'exec') {
          log.push(`${t} exec ${ref}`);
          const res = await call(t, 'POST', `/containers/${ref}/exec`, { Cmd: ['true'] });
          expect(log.at(-1)!, res, target ? 201 : 404);
          if (target) expect(`${t} exec start`, await call(t, 'POST', `/exec/${(JSON.parse(res.body) as { Id: string }).Id}/start`, { Detach: true }), 200);
        } else {
          const net = pick(NETWORKS);
          if (target?.networks.has(net)) continue;
          log.push(`${t} network connect ${net} ${ref}`);
          const res = await call(t, 'POST', `/networks/${net}/connect`, { Container: ref });
          expect(log.at(-1)!, res, target ? 200 : 400);
          target?.networks.add(net);
        }
      }
      // The daemon's own view: exactly the model's containers, each named, labelled and connected as the model says.
      const real = await engineJson<{ Id: string; Names: string[]; Labels: Record<string, string>; NetworkSettings: { Networks: Record<string, unknown> } }[]>(
        { socketPath: f.engine.socketPath },
        'GET',
        '/containers/json?all=1',
      );
      const want = boxes.map((b) => `${b.id} /${b.owner}.${b.name} ${b.owner} ${[...b.networks].map((n) => `${b.owner}.${n}`).sort().join(',')}`).sort();
      const have = real.map((c) => `${c.Id} ${c.Names[0]} ${c.Labels['io.dockward.owner']} ${Object.keys(c.NetworkSettings.Networks).sort().join(',')}`).sort();
      assert.deepEqual(have, want, `seed ${seed}, after: ${log.join('; ')}`);
      // And each tenant lists exactly its own.
      for (const u of TENANTS) {
        const listed = JSON.parse((await call(u, 'GET', '/containers/json?all=1')).body) as { Id: string; Names: string[] }[];
        assert.deepEqual(
          listed.map((c) => `${c.Id} ${c.Names[0]}`).sort(),
          mine(u).map((b) => `${b.id} /${b.name}`).sort(),
          `seed ${seed}: ${u}'s list after: ${log.join('; ')}`,
        );
      }
    }
  });
});
