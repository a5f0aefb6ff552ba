/**
 * The exec create, container update, volume create and network create bodies without a daemon: decoded as
 * dockerd 20.10 (API 1.41), 26.1 (API 1.45) and 28.5 (API 1.51) decode them, into Go's canonical names.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BodyError, canonicalBody, type BodyKind } from '../../../src/api/bodies/canonical.js';

const body = (kind: BodyKind, text: string, api: string) => canonicalBody(kind, Buffer.from(text), api);

describe('struct bodies: exec create, container update, volume, network and service create, auth', () => {
  const CASES: [string, BodyKind, string, string, Record<string, unknown>][] = [
    ['exec: keys fold, the last case variant wins', 'exec-create', '{"cmd":["id"],"PRIVILEGED":false,"privileged":true,"\\u0055ser":"root"}', '1.51', { Cmd: ['id'], Privileged: true, User: 'root' }],
    ['exec: the Kelvin sign folds to k', 'exec-create', '{"Cmd":["id"],"DetachKeys":"x","Detach\u212Aeys":"y"}', '1.41', { DetachKeys: 'y' }],
    ['exec: null leaves a bool as it was', 'exec-create', '{"Cmd":["id"],"Privileged":true,"privileged":null}', '1.41', { Privileged: true }],
    ['update: Resources is flattened', 'container-update', '{"pidslimit":-1,"Devices":[{"PathOnHost":"/dev/sda"}],"RestartPolicy":{"name":"always"}}', '1.41', { PidsLimit: -1, RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } }],
    ['update: null PidsLimit stays unset', 'container-update', '{"PidsLimit":100,"PidsLimit":null}', '1.51', { PidsLimit: null }],
    ['volume: driver options by their exact keys', 'volume-create', '{"name":"v","driveropts":{"type":"none","O":"bind","o":"bind","device":"/"}}', '1.41', { Name: 'v', DriverOpts: { type: 'none', O: 'bind', o: 'bind', device: '/' } }],
    ['volume: 28.5 omits empty fields', 'volume-create', '{"Name":"v"}', '1.51', { Name: 'v' }],
    ['volume: 28.5 reads an empty body as the zero value', 'volume-create', '', '1.51', {}],
    ['volume: 26.1 reads an empty body as the zero value', 'volume-create', '', '1.45', {}],
    ['exec: 26.1 has ConsoleSize', 'exec-create', '{"Cmd":["id"],"ConsoleSize":[1,2]}', '1.45', { Cmd: ['id'], ConsoleSize: [1, 2] }],
    ['service: 26.1 has NoNewPrivileges', 'service-spec', '{"TaskTemplate":{"ContainerSpec":{"Privileges":{"NoNewPrivileges":true}}}}', '1.45', { TaskTemplate: { ContainerSpec: { Privileges: { CredentialSpec: null, SELinuxContext: null, NoNewPrivileges: true } }, ForceUpdate: 0 } }],
    ['network: the embedded create options are flattened', 'network-create', '{"name":"n","driver":"bridge","OPTIONS":{"a":"1"},"ipam":{"config":[{"subnet":"10.0.0.0/8","auxiliaryaddresses":{"h":"10.0.0.2"}}]}}', '1.41', { Name: 'n', Driver: 'bridge', Options: { a: '1' }, IPAM: { Driver: '', Options: null, Config: [{ Subnet: '10.0.0.0/8', AuxiliaryAddresses: { h: '10.0.0.2' } }] } }],
  ];
  for (const [name, kind, text, api, expected] of CASES) {
    it(name, () => {
      const got = body(kind, text, api);
      for (const [k, v] of Object.entries(expected)) assert.deepEqual(got[k], v, `${k} in ${JSON.stringify(got)}`);
      if (name.includes('omits')) assert.deepEqual(got, expected);
    });
  }

  const REFUSED: [string, BodyKind, string, string, RegExp][] = [
    ['exec: ConsoleSize is not in 20.10', 'exec-create', '{"Cmd":["id"],"ConsoleSize":[1,2]}', '1.41', /unknown field ConsoleSize/],
    ['exec: an unknown field', 'exec-create', '{"Cmd":["id"],"Privileged2":true}', '1.51', /unknown field Privileged2/],
    ['exec: a wrong type', 'exec-create', '{"Cmd":"id"}', '1.51', /Cmd/],
    ['update: trailing data', 'container-update', '{"Memory":1}{"PidsLimit":-1}', '1.51', /data after the JSON body/],
    ['update: trailing data (26.1)', 'container-update', '{"Memory":1}{"PidsLimit":-1}', '1.45', /data after the JSON body/],
    ['update: a huge integer', 'container-update', '{"Memory":9007199254740993}', '1.41', /2\^53/],
    ['volume: 20.10 cannot read an empty body', 'volume-create', '', '1.41', /empty body/],
    ['volume: ClusterVolumeSpec is not in 20.10', 'volume-create', '{"ClusterVolumeSpec":{"Group":"g"}}', '1.41', /unknown field ClusterVolumeSpec/],
    ['network: EnableIPv4 is not in 20.10', 'network-create', '{"Name":"n","EnableIPv4":true}', '1.41', /unknown field EnableIPv4/],
    ['network: EnableIPv4 is not in 26.1 (1.48)', 'network-create', '{"Name":"n","EnableIPv4":true}', '1.45', /unknown field EnableIPv4/],
    ['service: OomScoreAdj is not in 26.1 (1.46)', 'service-spec', '{"TaskTemplate":{"ContainerSpec":{"OomScoreAdj":-500}}}', '1.45', /unknown field TaskTemplate\.ContainerSpec\.OomScoreAdj/],
    ['auth: an empty body (no dockerd reads /auth with ReadJSON)', 'auth', '', '1.51', /empty body/],
    ['a daemon the gateway has no model of', 'volume-create', '{}', '1.44', /no model of the body of POST \/volumes\/create for dockerd API 1\.44 \(it knows 1\.41, 1\.45 and 1\.51\)/],
  ];
  for (const [name, kind, text, api, error] of REFUSED) {
    it(`refuses ${name}`, () => {
      assert.throws(() => body(kind, text, api), (e: unknown) => e instanceof BodyError && error.test(e.message));
    });
  }
});
