/**
 * Request-target canonicalization: read a raw HTTP request-target exactly the way dockerd (20.10
 * and 28.5 alike) routes it, or refuse it.
 *
 * How dockerd reads a target (verified against the daemon, see test/api/dockerd-routing.test.ts):
 * Go's net/http percent-decodes the path and gorilla/mux matches routes against the decoded path,
 * so `%2F` acts as `/` (`/v1.41/containers%2Fjson` lists containers) and `in%66o` is `info`;
 * unclean paths (`//`, `/./`, `/../`, also as `%2e`) get a 301 to the cleaned path, which a client
 * may follow to a route a filter never checked; the version segment `v[0-9.]+` is compared
 * numerically per component (`/v01.041/` and `/v1.41.0/` are 1.41); absolute-form targets
 * (`http://host/v1.41/info`) are served as their path.
 *
 * Rule: whatever dockerd would redirect, decode into a separator, or read differently from the
 * obvious reading is refused (400) and never forwarded. What is accepted is rebuilt from its
 * parsed parts (never the raw string) so the daemon sees exactly what was authorized.
 */

import { apiVersionNumber, formatVersion, MIN_API_VERSION } from './versions.js';

export const MAX_TARGET_LENGTH = 8 * 1024;

export interface ParsedTarget {
  /** The API version as sent (`1.41`), or undefined for an unversioned target. */
  readonly version: string | undefined;
  /** The decoded path without the version prefix, e.g. `/images/library/busybox:latest/json`. */
  readonly path: string;
  /** The raw query (validated, without `?`), '' if none. */
  readonly query: string;
  /** The canonical target to send upstream: `/v1.41` + re-encoded path + `?query`. */
  readonly forwardTarget: string;
}

export type TargetResult = { ok: true; target: ParsedTarget } | { ok: false; message: string };

const MIN_VERSION_NUMBER = apiVersionNumber(MIN_API_VERSION);

// Bytes allowed literally in a path: RFC 3986 pchar and "/", minus ";" (path parameters to some
// servers, a literal to Go) so no two readers of one target can disagree.
const PATH_OK = new Uint8Array(128);
// Query: pchar, "/" and "?", minus ";" (a separator to Go before 1.17, an error after).
const QUERY_OK = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@/") {
  PATH_OK[c.charCodeAt(0)] = 1;
  QUERY_OK[c.charCodeAt(0)] = 1;
}
QUERY_OK['?'.charCodeAt(0)] = 1;

const PERCENT = 0x25;
const SLASH = 0x2f;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

function bad(message: string): TargetResult {
  return { ok: false, message };
}

/** Upper-case hex escape of one byte. */
function escapeByte(b: number): string {
  return '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
}

/** The API versions a target may name (apiVersionNumber). */
export interface VersionLimits {
  /** The newest one accepted: the daemon's, or the gateway's newest if that is older. */
  readonly accepted: number;
  /** The daemon's own (its default for unversioned requests). */
  readonly daemon: number;
}

/** Parse `raw` (the request-target exactly as received) within `limits`. */
export function parseTarget(raw: string, limits: VersionLimits): TargetResult {
  if (raw.length > MAX_TARGET_LENGTH) return bad(`request target is longer than ${MAX_TARGET_LENGTH} bytes`);
  if (raw.charCodeAt(0) !== SLASH) {
    return bad('request target must be a path starting with "/" (absolute-form, authority-form and "*" are refused)');
  }
  const q = raw.indexOf('?');
  const pathEnd = q === -1 ? raw.length : q;

  // One pass over the path: validate bytes, decode escapes, reject what decodes to a separator or a
  // control byte, and reject empty and dot segments (what dockerd would redirect).
  let decoded: string | undefined; // built only when the path holds an escape
  let segStart = 1;
  let segDots = 0; // dots in the current segment if it holds only dots, else -1
  for (let i = 1; i <= pathEnd; i++) {
    let c = i === pathEnd ? SLASH : raw.charCodeAt(i);
    if (i < pathEnd) {
      if (c === PERCENT) {
        const h = i + 2 < pathEnd ? hexValue(raw.charCodeAt(i + 1)) : -1;
        const l = h === -1 ? -1 : hexValue(raw.charCodeAt(i + 2));
        if (l === -1) return bad('request path has an invalid percent-escape');
        c = h * 16 + l;
        if (c === SLASH || c === 0x5c) return bad('request path has an encoded "/" or "\\" (dockerd would decode it into a separator)');
        if (c < 0x20 || c >= 0x7f) return bad('request path has an encoded control or non-ASCII byte');
        decoded ??= raw.slice(0, i);
        i += 2;
        decoded += String.fromCharCode(c);
        if (c === 0x2e) segDots = segDots === -1 ? -1 : segDots + 1;
        else segDots = -1;
        continue;
      }
      if (c >= 128 || PATH_OK[c] !== 1) {
        return bad(c < 0x20 || c === 0x7f ? 'request path has a control character' : `request path has the character "${String.fromCharCode(c)}", which must be percent-encoded`);
      }
      if (decoded !== undefined) decoded += raw[i];
      if (c !== SLASH) {
        segDots = c === 0x2e && segDots !== -1 ? segDots + 1 : -1;
        continue;
      }
    }
    // c is a separator (or the end of the path): judge the segment that just ended.
    const segLen = i - segStart;
    if (segLen === 0 && i !== pathEnd) return bad('request path has an empty segment ("//"), which dockerd would redirect');
    if (segDots === 1 || segDots === 2) return bad('request path has a "." or ".." segment, which dockerd would redirect');
    segStart = i + 1;
    segDots = 0;
  }
  const path = decoded ?? raw.slice(0, pathEnd);

  let query = '';
  if (q !== -1) {
    for (let i = q + 1; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (c === PERCENT) {
        if (i + 2 >= raw.length || hexValue(raw.charCodeAt(i + 1)) === -1 || hexValue(raw.charCodeAt(i + 2)) === -1) {
          return bad('request query has an invalid percent-escape');
        }
        i += 2;
      } else if (c >= 128 || QUERY_OK[c] !== 1) {
        if (c === 0x23) return bad('request target has a fragment ("#")');
        if (c === 0x3b) return bad('request query has ";" (Go versions disagree on what it means); percent-encode it');
        return bad(c < 0x20 || c === 0x7f ? 'request query has a control character' : `request query has the character "${String.fromCharCode(c)}", which must be percent-encoded`);
      }
    }
    query = raw.slice(q + 1);
  }

  // The version segment: dockerd treats any first segment matching v[0-9.]+ as a version and
  // compares it numerically; only the canonical spelling is accepted so there is one reading.
  let version: string | undefined;
  let rest = path;
  const firstEnd = path.indexOf('/', 1);
  const first = firstEnd === -1 ? path.slice(1) : path.slice(1, firstEnd);
  if (/^[vV][0-9.]+$/.test(first)) {
    if (!/^v[1-9][0-9]{0,2}\.(0|[1-9][0-9]{0,2})$/.test(first)) {
      return bad(`API version "${first}" is not in canonical form (expected e.g. "v1.41")`);
    }
    version = first.slice(1);
    const n = apiVersionNumber(version);
    if (n < MIN_VERSION_NUMBER) return bad(`client API version ${version} is too old; the gateway accepts ${MIN_API_VERSION} and newer`);
    if (n > limits.accepted) return bad(tooNew(version, limits));
    rest = firstEnd === -1 ? '/' : path.slice(firstEnd);
  }

  let forwardPath = path;
  if (decoded !== undefined) {
    // Re-encode every byte that is not literally allowed so the daemon decodes exactly `path`.
    forwardPath = '';
    for (let i = 0; i < path.length; i++) {
      const c = path.charCodeAt(i);
      forwardPath += PATH_OK[c] === 1 ? path[i] : escapeByte(c);
    }
  }
  const forwardTarget = query === '' ? forwardPath : `${forwardPath}?${query}`;
  return { ok: true, target: { version, path: rest, query, forwardTarget } };
}

function tooNew(version: string, { accepted, daemon }: VersionLimits): string {
  if (accepted >= daemon) return `client API version ${version} is too new; the daemon supports up to ${formatVersion(daemon)}`;
  // Never forwarded as if it were an older version: the gateway cannot know what it changed.
  return (
    `client API version ${version} is newer than the gateway knows: it accepts up to ${formatVersion(accepted)} ` +
    `(dockerd speaks ${formatVersion(daemon)}); use API ${formatVersion(accepted)} (e.g. DOCKER_API_VERSION=${formatVersion(accepted)})`
  );
}
