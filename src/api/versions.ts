/**
 * Engine API versions: `MAJOR.MINOR`, compared numerically per component (1.9 < 1.24 < 1.100),
 * as dockerd compares them.
 */

/** The oldest API version dockerd 20.10 and later serve (older ones are refused by dockerd too). */
export const MIN_API_VERSION = '1.24';
/**
 * The newest API version the gateway accepts: that of the newest dockerd it is tested against
 * (28.5). Requests for newer versions are refused, never treated as an older one.
 */
export const NEWEST_API_VERSION = '1.51';

/** Encodes an API version `MAJOR.MINOR` as one comparable number. */
export function apiVersionNumber(version: string): number {
  const m = /^([1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/.exec(version);
  if (!m) throw new Error(`invalid API version "${version}" (expected MAJOR.MINOR, e.g. 1.41)`);
  return Number(m[1]) * 1000 + Number(m[2]);
}

/** The API version a canonical target (`/v1.51/...`) is made in; `fallback` when it names none. */
export function targetApiVersion(target: string, fallback: string): string {
  return /^\/v([0-9]+\.[0-9]+)\//.exec(target)?.[1] ?? fallback;
}

export function formatVersion(n: number): string {
  return `${Math.floor(n / 1000)}.${n % 1000}`;
}
