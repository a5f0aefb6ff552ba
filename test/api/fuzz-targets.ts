/**
 * Reproducible request targets built from the pieces that make canonicalization hard: versions,
 * dot segments, empty segments, encoded separators and ordinary escapes, greedy image names;
 * half are real GET routes' sample paths with such pieces spliced in. None can reach a route
 * that streams (events), profiles (debug) or makes the daemon contact a registry (distribution,
 * search, plugin privileges), so a daemon answers each at once and only ever over loopback.
 */
import { ROUTES } from '../../src/api/routes.js';
import { samplePath } from './samples.js';

const SAFE_GET_PATHS = ROUTES.filter(
  (r) => r.method === 'GET' && !/^\/(events|debug|distribution)|^\/images\/search|^\/plugins\/privileges/.test(r.template),
).map(samplePath);
const SPLICES = ['/.', '/..', '/', '/%2e', '/%2E%2e', '/%2F', '/%5C', '/x', '/%00', '/a%3Fb'];
const VERSIONS = ['', '', '/v1.41', '/v1.24', '/v1.041', '/V1.41', '/v1.41.0', '/%761.41'];
const PIECES = [
  '/containers', '/images', '/json', '/info', '/version', '/_ping', '/x', '/history',
  '/a%3Fb', '/a%25b', '/in%66o', '/j%73on', '/%2e', '/%2E%2E', '/.', '/..', '/', '/%2F', '/a%5Cb',
  '/busybox:latest', '/localhost:5000', '/sha256:abc', '/a;b', '/a+b', '/%20x',
];
const QUERIES = ['', '', '?all=1', '?filters=%7B%22a%22%3A1%7D', '?a=%zz', '?a=1;b=2', '?a=%', '?x=%2F..%2F'];

/** A small deterministic PRNG (mulberry32) so a failure names a reproducible target. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function fuzzTargets(count: number, seed = 20): string[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out = new Set<string>();
  while (out.size < count) {
    let path = '';
    if (rnd() < 0.5) {
      const n = 1 + Math.floor(rnd() * 4);
      for (let i = 0; i < n; i++) path += pick(PIECES);
    } else {
      path = pick(SAFE_GET_PATHS);
      for (let m = Math.floor(rnd() * 3); m > 0; m--) {
        const at = Math.floor(rnd() * path.length);
        if (rnd() < 0.5 && /[a-z]/.test(path[at]!)) {
          // An escape of an ordinary character, in either hex case.
          const hex = path.charCodeAt(at).toString(16);
          path = `${path.slice(0, at)}%${rnd() < 0.5 ? hex : hex.toUpperCase()}${path.slice(at + 1)}`;
        } else {
          const slash = path.lastIndexOf('/', at);
          path = `${path.slice(0, slash)}${pick(SPLICES)}${path.slice(slash)}`;
        }
      }
    }
    out.add(pick(VERSIONS) + path + pick(QUERIES));
  }
  return [...out];
}
