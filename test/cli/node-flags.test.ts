import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { GATEWAY_NODE_FLAGS } from '../../src/gateway/node-flags.js';

// The places that cannot import the list repeat it: each must say exactly the same.
test("the gateway's node flags are on the dockward script's #! line and in the image's ENTRYPOINT", async () => {
  const shebang = (await readFile(new URL('../../src/cli/main.ts', import.meta.url), 'utf8')).split('\n')[0];
  assert.equal(shebang, `#!/usr/bin/env -S node ${GATEWAY_NODE_FLAGS.join(' ')}`);
  const built = (await readFile(new URL('../../dist/cli/main.js', import.meta.url), 'utf8').catch(() => undefined))?.split('\n')[0];
  if (built !== undefined) assert.equal(built, shebang, 'dist/ is older than src/: npm run build');
  const dockerfile = await readFile(new URL('../../deploy/Dockerfile', import.meta.url), 'utf8');
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
  assert.ok(entrypoint, 'deploy/Dockerfile has an ENTRYPOINT in exec form');
  assert.deepEqual(JSON.parse(entrypoint), ['/usr/local/bin/node', ...GATEWAY_NODE_FLAGS, '/app/dist/cli/main.js']);
});
