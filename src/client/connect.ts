/**
 * `dockward connect`: proves that a bundle reaches a Docker endpoint exactly as the docker CLI
 * would (verified server identity, accepted client certificate), then configures the CLI —
 * a context, or the environment lines. A failure comes back as the doctor's diagnosis.
 */
import { engineJson } from '../engine/engine-client.js';
import { diagnose, formatDoctorReport, type DoctorReport } from './doctor.js';
import { loadBundle, serverName, type Target } from './tls-probe.js';
import { writeDockerContext } from './docker-context.js';
import { UsageError } from '../util/errors.js';

export interface ServerVersion {
  version: string;
  apiVersion: string;
  os: string;
  arch: string;
}

export type ConnectResult =
  | {
      ok: true;
      target: string;
      server: ServerVersion;
      /** Set when a context was written: `docker context use NAME` selects it. */
      context?: { name: string; metaFile: string };
      /** The variables the docker CLI reads, when no context was asked for. */
      env?: { DOCKER_HOST: string; DOCKER_TLS_VERIFY: string; DOCKER_CERT_PATH: string };
      report: DoctorReport;
    }
  | { ok: false; target: string; report: DoctorReport };

export interface ConnectOptions {
  target: Target;
  bundleDir: string;
  context?: string;
  description?: string;
  force?: boolean;
  configDir?: string;
  timeoutMs?: number;
}

export async function connect(o: ConnectOptions): Promise<ConnectResult> {
  const bundle = await loadBundle(o.bundleDir);
  if (!bundle.ca && !bundle.cert && !bundle.key) {
    throw new UsageError(`${bundle.dir} holds no ca.pem, cert.pem or key.pem`, 'give the directory of a client bundle (dockward pki client NAME writes one)');
  }
  const report = await diagnose({ target: o.target, tls: true, bundle, timeoutMs: o.timeoutMs });
  if (!report.ok) return { ok: false, target: o.target.url, report };

  // The doctor judged the server in Go's terms; this request verifies it again the normal way.
  const v = await engineJson<{ Version: string; ApiVersion: string; Os: string; Arch: string }>(
    {
      host: o.target.host,
      port: o.target.port,
      tls: { ca: bundle.ca, cert: bundle.cert, key: bundle.key, servername: serverName(o.target.host) },
    },
    'GET',
    '/version',
  );
  const server = { version: v.Version, apiVersion: v.ApiVersion, os: v.Os, arch: v.Arch };
  if (o.context) {
    if (!bundle.ca || !bundle.cert || !bundle.key) {
      throw new UsageError(`a context needs ca.pem, cert.pem and key.pem, and ${bundle.dir} lacks some`, 'use a complete client bundle');
    }
    const ctx = await writeDockerContext({
      name: o.context,
      host: o.target.url,
      caPem: bundle.ca,
      certPem: bundle.cert,
      keyPem: bundle.key,
      description: o.description ?? `dockward: ${o.target.url}`,
      configDir: o.configDir,
      force: o.force,
    });
    return { ok: true, target: o.target.url, server, context: { name: ctx.name, metaFile: ctx.metaFile }, report };
  }
  return { ok: true, target: o.target.url, server, env: { DOCKER_HOST: o.target.url, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: bundle.dir }, report };
}

function shellQuote(v: string): string {
  return /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

export function formatConnectResult(r: ConnectResult): string {
  if (!r.ok) return formatDoctorReport(r.report);
  const s = r.server;
  // Without a context the output is meant for eval "$(dockward connect …)": prose stays in comments.
  const say = r.context ? '' : '# ';
  const lines = [`${say}connected to ${r.target}: Docker ${s.version} (API ${s.apiVersion}, ${s.os}/${s.arch})`];
  for (const f of r.report.findings) if (f.severity === 'warning') lines.push(`${say}WARNING ${f.message}${f.fix ? ` (fix: ${f.fix})` : ''}`);
  if (r.context) {
    lines.push(`wrote the docker context "${r.context.name}"; select it with:`, `  docker context use ${r.context.name}`);
  } else if (r.env) {
    lines.push('# configure this shell with:', ...Object.entries(r.env).map(([k, v]) => `export ${k}=${shellQuote(v)}`));
  }
  return lines.join('\n') + '\n';
}
