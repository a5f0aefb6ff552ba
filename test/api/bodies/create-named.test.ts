/**
 * Named create bodies whose outcome is written down, checked against the decoder and against the
 * real dockerd: the rules a gateway that reads bodies differently from dockerd gets wrong.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { engineSkipReason, startTestEngine, TEST_IMAGE, type TestEngine } from '../../harness/engine.js';
import { decodeContainerCreate } from '../../../src/api/bodies/container-create.js';
import { encode } from '../../../src/api/gojson/encode.js';
import { lookup, zero } from '../../../src/api/gojson/value.js';
import { call } from './daemon-api.js';

const skip = engineSkipReason();
const IMAGE = `"Image":"${TEST_IMAGE}"`;

interface Case {
  name: string;
  body: string;
  /** HostConfig fields after create, per daemon API (both when the same). */
  want?: Record<string, unknown>;
  want141?: Record<string, unknown>;
  want151?: Record<string, unknown>;
  /** Refused by dockerd of that API. */
  refused?: ('1.41' | '1.51')[];
}

const CASES: Case[] = [
  { name: 'case-variant duplicate: the last wins', body: `{${IMAGE},"HostConfig":{"NetworkMode":"none","Privileged":false,"privileged":true}}`, want: { Privileged: true } },
  { name: 'ſ folds to s', body: `{${IMAGE},"HostConfig":{"NetworkMode":"none","ſecurityOpt":["seccomp=unconfined"]}}`, want: { SecurityOpt: ['seccomp=unconfined'] } },
  { name: 'the Kelvin sign folds to k', body: `{${IMAGE},"HostConfig":{"Networ\u212aMode":"none","PidMode":"host"}}`, want: { NetworkMode: 'none', PidMode: 'host' } },
  { name: 'an escaped key matches', body: `{${IMAGE},"HostConfig":{"NetworkMode":"none","\\u0050idMode":"host"}}`, want: { PidMode: 'host' } },
  { name: 'null leaves a bool as it was', body: `{${IMAGE},"HostConfig":{"NetworkMode":"none","Privileged":true,"Privileged":null}}`, want: { Privileged: true } },
  {
    name: 'a repeated HostConfig merges',
    body: `{${IMAGE},"HostConfig":{"NetworkMode":"none","Binds":["/:/host"]},"hostconfig":{"CapAdd":"SYS_ADMIN"}}`,
    want: { Binds: ['/:/host'], CapAdd: ['SYS_ADMIN'] },
  },
  {
    name: 'a repeated Mounts merges into elements past the length',
    body: `{${IMAGE},"HostConfig":{"NetworkMode":"none","Mounts":[{"Type":"bind","Source":"/tmp","Target":"/a"},{"Type":"bind","Source":"/","Target":"/b"}],"Mounts":[{}],"Mounts":[{},{"ReadOnly":true}]}}`,
    want: { Mounts: [{ Type: 'bind', Source: '/tmp', Target: '/a' }, { Type: 'bind', Source: '/', Target: '/b', ReadOnly: true }] },
  },
  {
    name: '20.10 reads HostConfig fields at the top level, 28.5 ignores them',
    body: `{${IMAGE},"Privileged":true,"NetworkMode":"none"}`,
    want141: { Privileged: true, NetworkMode: 'none' },
    want151: { Privileged: false },
  },
  { name: 'a stray } after the body is accepted', body: `{${IMAGE},"HostConfig":{"NetworkMode":"none","Privileged":true}}}`, want: { Privileged: true } },
  {
    name: 'a second value after the body: 20.10 ignores it, 28.5 refuses the body',
    body: `{${IMAGE},"HostConfig":{"NetworkMode":"none"}}{"HostConfig":{"Privileged":true}}`,
    want141: { Privileged: false },
    refused: ['1.51'],
  },
  { name: 'a wrong type is refused', body: `{${IMAGE},"HostConfig":{"NetworkMode":"none","Privileged":"true"}}`, refused: ['1.41', '1.51'] },
  { name: 'a fraction into an int is refused', body: `{${IMAGE},"HostConfig":{"NetworkMode":"none","Memory":67108864.0}}`, refused: ['1.41', '1.51'] },
];

describe('container create: named bodies, the decoder and dockerd', { skip }, () => {
  let engine: TestEngine;
  let api: '1.41' | '1.51';
  before(async () => {
    engine = await startTestEngine();
    api = JSON.parse((await call(engine.socketPath, 'GET', '/version')).body).ApiVersion;
  });
  after(async () => {
    await engine?.stop();
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const refused = c.refused?.includes(api) ?? false;
      let ours: ReturnType<typeof decodeContainerCreate> | undefined;
      try {
        ours = decodeContainerCreate(Buffer.from(c.body), api);
      } catch {
        // a GoJsonError: the decoder refuses the body
      }
      const decoderRefuses = !ours || (api === '1.51' && ours.decoded.rest === 'content');
      assert.equal(decoderRefuses, refused, `the decoder ${decoderRefuses ? 'refuses' : 'accepts'} ${c.body}`);
      const res = await call(engine.socketPath, 'POST', `/v${api}/containers/create`, c.body);
      assert.equal(res.status !== 201, refused, `dockerd answered ${res.status} ${res.body}`);
      if (refused) return;
      const id = JSON.parse(res.body).Id as string;
      const inspect = JSON.parse((await call(engine.socketPath, 'GET', `/v${api}/containers/${id}/json`)).body);
      await call(engine.socketPath, 'DELETE', `/v${api}/containers/${id}?force=1`);
      const want = c.want ?? (api === '1.41' ? c.want141 : c.want151)!;
      // No HostConfig sent: dockerd goes on with an empty one.
      const hcType = lookup(ours!.decoded.value, ours!.type, ['HostConfig'])!.type;
      const hc = ours!.hostConfig ?? zero(hcType.kind === 'ptr' ? hcType.elem : hcType);
      for (const [field, value] of Object.entries(want)) {
        assert.deepEqual(inspect.HostConfig[field], value, `dockerd: HostConfig.${field}`);
        const v = lookup(hc, hcType, [field]);
        assert.deepEqual(v ? JSON.parse(encode(v.value, v.type)) : undefined, value, `the decoder: HostConfig.${field}`);
      }
    });
  }
});
