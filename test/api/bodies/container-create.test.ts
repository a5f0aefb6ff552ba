/**
 * The create body without a daemon: the top-level HostConfig rules of runconfig's wrapper (20.10,
 * 26.1), and generated bodies (create-bodies.ts, seeded) whose canonical encoding must decode to
 * itself with nothing unknown or trailing, for every daemon version.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { containerCreateType, decodeContainerCreate } from '../../../src/api/bodies/container-create.js';
import { GoJsonError } from '../../../src/api/gojson/decode.js';
import { encode } from '../../../src/api/gojson/encode.js';
import { lookup, type GoStruct } from '../../../src/api/gojson/value.js';
import { createBody, rng } from './create-bodies.js';

const SEED = Number(process.env.GOJSON_SEED ?? 20261125);
/** The daemons that decode creates into runconfig.ContainerConfigWrapper: 20.10, 26.1. */
const WRAPPER_APIS = ['1.41', '1.45'];

function hostField(body: string, api: string, name: string): unknown {
  const c = decodeContainerCreate(Buffer.from(body), api);
  if (!c.hostConfig) return undefined;
  const v = lookup(c.hostConfig, c.hostConfig.type, [name])!;
  return JSON.parse(encode(v.value, v.type));
}

describe('container create body', () => {
  it('is known for the daemons of API 1.41, 1.45 and 1.51 only', () => {
    for (const api of ['1.41', '1.45', '1.51']) assert.ok(containerCreateType(api), api);
    assert.equal(containerCreateType('1.44'), undefined);
    assert.throws(() => decodeContainerCreate(Buffer.from('{}'), '1.52'), /no container create body is known for a daemon of API 1\.52/);
  });
  it('28.5 does not read top-level HostConfig fields', () => {
    assert.equal(hostField('{"Image":"x","privileged":true}', '1.51', 'Privileged'), undefined);
    assert.deepEqual(decodeContainerCreate(Buffer.from('{"Image":"x","privileged":true}'), '1.51').decoded.unknown, ['privileged']);
  });
  for (const api of WRAPPER_APIS) {
    it(`API ${api}: top-level HostConfig fields are the HostConfig when none is sent`, () => {
      assert.equal(hostField('{"Image":"x","Privileged":true}', api, 'Privileged'), true);
      assert.deepEqual(decodeContainerCreate(Buffer.from('{"Image":"x","privileged":true}'), api).decoded.unknown, []);
    });
    it(`API ${api}: with a HostConfig object, top-level fields count only for five resources`, () => {
      const body = '{"Privileged":true,"Memory":8388608,"CpusetCpus":"0","Binds":["/:/h"],"HostConfig":{"NetworkMode":"none"}}';
      assert.equal(hostField(body, api, 'Privileged'), false);
      assert.equal(hostField(body, api, 'Binds'), null);
      assert.equal(hostField(body, api, 'Memory'), 8388608);
      assert.equal(hostField(body, api, 'CpusetCpus'), '0');
      assert.equal(hostField('{"Memory":1,"HostConfig":{"Memory":2}}', api, 'Memory'), 2);
      assert.equal(hostField('{"Cpuset":"1","HostConfig":{}}', api, 'CpusetCpus'), '1');
    });
  }
  for (const api of ['1.41', '1.45', '1.51']) {
    it(`API ${api}: 2000 generated bodies re-encode to a fixed point (seed ${SEED})`, () => {
      const r = rng(SEED);
      for (let n = 0; n < 2000; n++) {
        const { body, text } = createBody(r, 'busybox');
        let first;
        try {
          first = decodeContainerCreate(body, api);
        } catch (e) {
          assert.ok(e instanceof GoJsonError, `${text}: ${e}`);
          continue;
        }
        const canonical = encode(first.decoded.value, first.type);
        const again = decodeContainerCreate(Buffer.from(canonical), api);
        assert.equal(encode(again.decoded.value, again.type), canonical, text);
        assert.deepEqual(again.decoded.unknown, [], canonical);
        assert.equal(again.decoded.rest, 'end');
        const hc = (c: typeof first) => (c.hostConfig ? encode(c.hostConfig as GoStruct, lookup(c.decoded.value, c.type, ['HostConfig'])!.type) : 'null');
        if (!WRAPPER_APIS.includes(api)) assert.equal(hc(again), hc(first), text);
      }
    });
  }
});
