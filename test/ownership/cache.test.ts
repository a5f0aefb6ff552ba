/**
 * The ownership cache against a real dockerd: it follows the daemon's own events, and after a
 * lost events connection it reconnects and lists everything again (what happened meanwhile is
 * not replayed by events).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OwnershipCache } from '../../src/ownership/index.js';
import { MISS_RELIST_MS } from '../../src/ownership/cache.js';
import { resolveOwned } from '../../src/ownership/resolve.js';
import { engineSkipReason, startTestEngine, TEST_IMAGE, type TestEngine } from '../harness/engine.js';
import { until } from '../gateway/fixture.js';

const skip = engineSkipReason();

/** Counts the cache's listings until stop(). */
function countListings(cache: OwnershipCache): { count: number; stop(): void } {
  const refresh = cache.refresh.bind(cache);
  const counter = {
    count: 0,
    stop: () => {
      cache.refresh = refresh;
    },
  };
  cache.refresh = (kind) => {
    counter.count++;
    return refresh(kind);
  };
  return counter;
}

describe('ownership cache', { skip }, () => {
  let engine: TestEngine;
  let cache: OwnershipCache;
  const create = async (name: string, owner: string) => {
    const r = await engine.docker(['create', '--name', name, '--label', `io.dockward.owner=${owner}`, '--network', 'none', TEST_IMAGE, 'true']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };

  before(async () => {
    engine = await startTestEngine();
    cache = new OwnershipCache(engine.socketPath);
  });
  after(async () => {
    cache?.close();
    await engine?.stop();
  });

  it('lists what exists, then follows events without listing again', async () => {
    const x = await create('alice.x', 'alice');
    await cache.whenReady();
    assert.deepEqual(cache.containers.get(x), { owner: 'alice', name: 'alice.x' });
    const listings = countListings(cache);
    try {
      const y = await create('bob.y', 'bob');
      await until('the create event', () => cache.containers.get(y)?.owner === 'bob', 20_000);
      assert.equal(await engine.docker(['rename', 'bob.y', 'bob.z']).then((r) => r.code), 0);
      await until('the rename event', () => cache.containers.get(y)?.name === 'bob.z', 20_000);
      assert.equal(await engine.docker(['rm', 'bob.z']).then((r) => r.code), 0);
      await until('the destroy event', () => !cache.containers.has(y), 20_000);
      // Still known as bob's, for a tenant's events stream that reads the destroy later.
      assert.equal(cache.ownerOf('container', y)?.owner, 'bob');
      assert.equal(listings.count, 0);
    } finally {
      listings.stop();
    }
    assert.equal(await resolveOwned(cache, 'container', 'alice', 'x'), x);
    await assert.rejects(resolveOwned(cache, 'container', 'bob', 'x'), /No such container: x/);
  });

  it('reconnects after a lost events connection and lists everything again', async () => {
    // A stale entry (as if its destroy event had been lost with the connection).
    cache.containers.set('f'.repeat(64), { owner: 'alice', name: 'alice.ghost' });
    (cache as unknown as { events: { destroy(): void } }).events.destroy();
    await until('the listing after reconnecting', () => !cache.containers.has('f'.repeat(64)), 20_000);
    const w = await create('alice.w', 'alice');
    await until('events after reconnecting', () => cache.containers.get(w)?.owner === 'alice', 20_000);
  });
  it('lists a kind again after a miss, but once for all the misses that come within MISS_RELIST_MS', async () => {
    await cache.whenReady();
    const listings = countListings(cache);
    try {
      // A flood of lookups of names that do not exist, one after another, as a looping client makes them.
      const started = performance.now();
      let misses = 0;
      while (performance.now() - started < 1000) {
        await assert.rejects(resolveOwned(cache, 'container', 'alice', `nothing-${misses++}`), /No such container/);
      }
      const allowed = Math.ceil((performance.now() - started) / MISS_RELIST_MS) + 1;
      assert.ok(misses > 5, `only ${misses} misses in a second`);
      assert.ok(listings.count <= allowed, `${listings.count} listings for ${misses} misses in a second (at most ${allowed})`);
      // A container made outside the gateway a moment ago is still found by a miss.
      const made = await create('alice.fresh', 'alice');
      assert.equal(await resolveOwned(cache, 'container', 'alice', 'fresh'), made);
    } finally {
      listings.stop();
    }
  });
});
