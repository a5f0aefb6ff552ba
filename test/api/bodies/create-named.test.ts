// engines: trixie
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

/** The daemons' APIs: dockerd 20.10, 26.1, 28.5. */
type Api = '1.41' | '1.45' | '1.51';

interface Case {
  name: string;
  body: string;
  /** HostConfig fields after create, for every daemon. */
  want?: Record<string, unknown>;
  /** Or per daemon API, where they differ. */
  wantBy?: Partial<Record<Api, Record<string, unknown>>>;
  /** Refused by dockerd of that API. */
  refused?: Api[];
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
    name: '20.10 and 26.1 read HostConfig fields at the top level, 28.5 ignores them',
    body: `{${IMAGE},"Privileged":true,"NetworkMode":"none"}`,
    wantBy: { '1.41': { Privileged: true, NetworkMode: 'none' }, '1.45': { Privileged: true, NetworkMode: 'none' }, '1.51': { Privileged: false } },
  },
  {
    name: 'top-level HostConfig fields next to a HostConfig: only five carry over (20.10, 26.1)',
    body: `{${IMAGE},"Privileged":true,"Memory":8388608,"HostConfig":{"NetworkMode":"none"}}`,
    wantBy: { '1.41': { Privileged: false, Memory: 8388608 }, '1.45': { Privileged: false, Memory: 8388608 }, '1.51': { Privileged: false, Memory: 0 } },
  },
  { name: 'a stray } after the body is accepted', body: `{${IMAGE},"HostConfig":{"NetworkMode":"none","Privileged":true}}}`, want: { Privileged: true } },
  {
    name: 'a second value after the body: 20.10 ignores it, 26.1 and 28.5 refuse the body',
    body: `{${IMAGE},"HostConfig":{"NetworkMode":"none"}}{"HostConfig":{"Privileged":true}}`,
    wantBy: { '1.41': { Privileged: false } },
    refused: ['1.45', '1.51'],
  },
  { name: 'a wrong type is refused', body: `{${IMAGE},"HostConfig":{"NetworkMode":"none","Privileged":"true"}}`, refused: ['1.41', '1.45', '1.51'] },
  { name: 'a fraction into an int is refused', body: `{${IMAGE},"HostConfig":{"NetworkMode":"none","Memory":67108864.0}}`, refused: ['1.41', '1.45', '1.51'] },
];

describe('container create: named bodies, the decoder and dockerd', { skip }, () => {
  let engine: TestEngine;
  let api: Api;
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
      // A second value: only 20.10 has no dec.More() check.
      const decoderRefuses = !ours || (api !== '1.41' && ours.decoded.rest === 'content');
      assert.equal(decoderRefuses, refused, `the decoder ${decoderRefuses ? 'refuses' : 'accepts'} ${c.body}`);
      const res = await call(engine.socketPath, 'POST', `/v${api}/containers/create`, c.body);
      assert.equal(res.status !== 201, refused, `dockerd answered ${res.status} ${res.body}`);
      if (refused) return;
      const id = JSON.parse(res.body).Id as string;
      const inspect = JSON.parse((await call(engine.socketPath, 'GET', `/v${api}/containers/${id}/json`)).body);
      await call(engine.socketPath, 'DELETE', `/v${api}/containers/${id}?force=1`);
      const want = c.want ?? c.wantBy?.[api];
      assert.ok(want, `the case says nothing of dockerd API ${api}`);
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
