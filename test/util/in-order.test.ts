import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { allInOrder } from '../../src/util/in-order.js';

const failAfter = async (ms: number, what: string) => {
  await sleep(ms);
  throw new Error(what);
};

test('allInOrder: the values in order, whatever finishes first', async () => {
  const [a, b] = await allInOrder([sleep(20).then(() => 'a'), Promise.resolve(2)]);
  assert.equal(a, 'a');
  assert.equal(b, 2);
});

test('allInOrder: of several failures, the first in order is thrown even when a later one fails sooner', async () => {
  for (let i = 0; i < 5; i++) {
    await assert.rejects(allInOrder([failAfter(15, 'ca.pem'), failAfter(0, 'cert.pem'), Promise.resolve('key')]), /^Error: ca\.pem$/);
  }
});
