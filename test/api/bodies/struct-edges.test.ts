// engines: trixie
/**
 * The edges of the struct bodies, where the dockerds differ, checked against the daemon under
 * test: an empty body (httputils.ReadJSON, 26.1 and 28.5, leaves the struct zero; 20.10's
 * json.NewDecoder, and `/auth`'s in every dockerd, fail on EOF) and a second value after the body
 * (ReadJSON's dec.More() refuses it, 20.10 ignores it). The decoder's table (daemons.ts) must say
 * what the daemon does; the gateway refuses a second value on every daemon, so that case only
 * checks which daemons it protects.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { engineSkipReason, startTestEngine, type TestEngine } from '../../harness/engine.js';
import { BodyError, canonicalBody } from '../../../src/api/bodies/canonical.js';
import { knownDaemon } from '../../../src/api/bodies/daemons.js';
import { call } from './daemon-api.js';

const skip = engineSkipReason();

describe('struct bodies at their edges: the decoder and dockerd', { skip }, () => {
  let engine: TestEngine;
  let api: string;
  before(async () => {
    engine = await startTestEngine({ image: false });
    api = JSON.parse((await call(engine.socketPath, 'GET', '/version')).body).ApiVersion;
  });
  after(async () => {
    await engine?.stop();
  });

  const decoderReads = (kind: 'volume-create' | 'auth', body: string) => {
    try {
      canonicalBody(kind, Buffer.from(body), api);
      return true;
    } catch (e) {
      if (!(e instanceof BodyError)) throw e;
      return false;
    }
  };

  it('an empty volume create: the zero value where the daemon reads bodies with ReadJSON', async () => {
    const res = await call(engine.socketPath, 'POST', `/v${api}/volumes/create`, '');
    assert.equal(res.status === 201, knownDaemon(api)!.readJson, `dockerd API ${api} answered ${res.status} ${res.body}`);
    assert.equal(decoderReads('volume-create', ''), res.status === 201);
  });

  it('an empty /auth is an error in every dockerd (json.NewDecoder, not ReadJSON)', async () => {
    const res = await call(engine.socketPath, 'POST', `/v${api}/auth`, '');
    assert.notEqual(res.status, 200, res.body);
    assert.equal(decoderReads('auth', ''), false);
  });

  it('a second value after a volume create: refused by the daemons that read bodies with ReadJSON', async () => {
    const res = await call(engine.socketPath, 'POST', `/v${api}/volumes/create`, '{"Name":"first"}{"Name":"second"}');
    assert.equal(res.status !== 201, knownDaemon(api)!.readJson, `dockerd API ${api} answered ${res.status} ${res.body}`);
    assert.equal(decoderReads('volume-create', '{"Name":"first"}{"Name":"second"}'), false);
  });
});
