import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { GATEWAY_NODE_FLAGS } from '../../src/gateway/node-flags.js';

// The image's ENTRYPOINT cannot import the list, so it repeats it: it must say exactly the same.
test("the image's ENTRYPOINT passes the gateway's node flags", async () => {
  const dockerfile = await readFile(new URL('../../deploy/Dockerfile', import.meta.url), 'utf8');
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
  assert.ok(entrypoint, 'deploy/Dockerfile has an ENTRYPOINT in exec form');
  assert.deepEqual(JSON.parse(entrypoint), ['/usr/local/bin/node', ...GATEWAY_NODE_FLAGS, '/app/dist/cli/main.js']);
});
