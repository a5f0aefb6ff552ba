/**
 * Diagnoses a Docker connection in plain words: what the docker CLI would hit, why, and the
 * fix. The server's own signals (TCP errors, TLS alerts, what it answers on /_ping) are
 * combined with a local analysis of the certificates in Go's terms (verifyCertificate).
 */
import { isIP } from 'node:net';
import { KeyObject, X509Certificate } from 'node:crypto';
import { keyMismatch, loadDockerKey, verifyCertificate, type VerifyCheck, type VerifyReport } from '../pki/verify.js';
import { UsageError } from '../util/errors.js';
import { currentContextName, readDockerContext } from './docker-context.js';
import { defaultBundleDir, loadBundle, parseTarget, probeHttp, probeTls, isHttpsAnswer, isNotTls, TLS_ALERTS, type Bundle, type NetError, type Probe, type Target } from './tls-probe.js';

export interface Finding {
  id: string;
  severity: 'error' | 'warning' | 'info';
  message: string;
  fix?: string;
}

export interface DoctorReport {
  target: string;
  tls: boolean;
  bundle?: string;
  /** The docker CLI context the settings came from. */
  context?: string;
  /** True when the docker CLI would connect with these settings. */
  ok: boolean;
  protocol?: string;
  apiVersion?: string;
  findings: Finding[];
  serverCertificate?: VerifyReport;
  clientCertificate?: VerifyReport;
}

export interface DiagnoseOptions {
  target: Target;
  /** Whether the client speaks TLS (a bundle, or DOCKER_TLS_VERIFY). */
  tls: boolean;
  bundle?: Bundle;
  /** The docker CLI will not verify the server (a context with SkipTLSVerify). */
  skipServerVerify?: boolean;
  timeoutMs?: number;
  now?: Date;
}

export async function diagnose(o: DiagnoseOptions): Promise<DoctorReport> {
  const findings: Finding[] = [];
  const report: DoctorReport = { target: o.target.url, tls: o.tls, ...(o.bundle ? { bundle: o.bundle.dir } : {}), ok: false, findings };
  if (o.tls) await diagnoseTls(o, report);
  else await diagnosePlain(o, report);
  report.ok = !findings.some((f) => f.severity === 'error');
  if (report.ok) {
    findings.unshift({
      id: 'ok',
      severity: 'info',
      message: `${o.target.url} answered /_ping${report.protocol ? ` over ${report.protocol}` : ''}${report.apiVersion ? ` (API ${report.apiVersion})` : ''}`,
    });
  }
  return report;
}

/**
 * The settings the docker CLI itself would use, in its order: the address argument (with
 * --bundle, or DOCKER_TLS_VERIFY and DOCKER_CERT_PATH or ~/.docker — any non-empty
 * DOCKER_TLS_VERIFY, "0" included, turns TLS on), then --context, DOCKER_HOST, and finally
 * DOCKER_CONTEXT or the current context of config.json. Without TLS settings the CLI speaks
 * plain HTTP, and so does the diagnosis.
 */
export async function runDoctor(o: { target?: string; bundle?: string; context?: string; configDir?: string; timeoutMs?: number }): Promise<DoctorReport> {
  const contextName = o.target === undefined ? (o.context ?? (process.env.DOCKER_HOST ? undefined : await currentContextName(o.configDir))) : undefined;
  if (contextName && contextName !== 'default') {
    const ctx = await readDockerContext(contextName, o.configDir);
    const bundle = await loadBundle(o.bundle ?? ctx.tlsDir);
    const tls = o.bundle !== undefined || !!(bundle.ca || bundle.cert);
    const report = await diagnose({ target: parseTarget(ctx.host), tls, bundle: tls ? bundle : undefined, skipServerVerify: ctx.skipTlsVerify, timeoutMs: o.timeoutMs });
    return { ...report, context: contextName };
  }
  const url = o.target ?? process.env.DOCKER_HOST;
  if (!url) throw new UsageError('no Docker address to diagnose', 'give tcp://HOST:PORT, --context NAME, or set DOCKER_HOST');
  const target = parseTarget(url);
  const tls = o.bundle !== undefined || !!process.env.DOCKER_TLS_VERIFY;
  const bundle = tls ? await loadBundle(o.bundle ?? defaultBundleDir()) : undefined;
  return diagnose({ target, tls, bundle, timeoutMs: o.timeoutMs });
}

function where(t: Target): string {
  return `${isIP(t.host) === 6 ? `[${t.host}]` : t.host}:${t.port}`;
}

function nothingListening(t: Target, e: NetError): Finding {
  return e.code === 'ECONNREFUSED'
    ? {
        id: 'nothing-listening',
        severity: 'error',
        message: `nothing is listening on ${where(t)} (connection refused)`,
        fix: `check the address and port; on the Docker host, start dockerd with -H tcp://ADDRESS:${t.port} (dockward daemon apply) or the gateway (dockward up), and check its firewall`,
      }
    : {
        id: 'unreachable',
        severity: 'error',
        message: `cannot reach ${where(t)}: ${e.code} (${e.message})`,
        fix: 'check the host name, DNS, routing and firewalls between here and the Docker host',
      };
}

async function diagnosePlain(o: DiagnoseOptions, r: DoctorReport): Promise<void> {
  const t = o.target;
  const p = await probeHttp(t, o.timeoutMs);
  if (p.kind === 'tcp-error') {
    r.findings.push(nothingListening(t, p.error));
    return;
  }
  if (p.kind !== 'http') return;
  // Go's HTTPS server says so in plain HTTP; Node's (dockward's gateway) just drops the
  // connection, so a TLS handshake settles whether the port speaks TLS.
  const goSaid = isHttpsAnswer(p.ping);
  const tls = goSaid || p.ping ? undefined : await probeTls(t, {}, o.timeoutMs);
  const speaksTls = goSaid || (tls?.kind === 'tls' && (tls.handshake || tls.error?.alert !== undefined));
  if (speaksTls) {
    r.findings.push({
      id: 'plain-http-on-tls-port',
      severity: 'error',
      message: `${where(t)} speaks TLS, but this client connected with plain HTTP: ${goSaid ? 'the server answered "Client sent an HTTP request to an HTTPS server"' : 'the server dropped the plain request and completes a TLS handshake'}`,
      fix: 'connect with TLS and a client bundle: export DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=DIR (ca.pem cert.pem key.pem from dockward pki client NAME), or pass --bundle DIR',
    });
    return;
  }
  if (p.ping?.status === 200) {
    r.apiVersion = p.ping.apiVersion;
    r.findings.push(exposedWithoutTls(t, p.ping.apiVersion, 'warning'));
    return;
  }
  r.findings.push(notDocker(t, p));
}

function exposedWithoutTls(t: Target, apiVersion: string | undefined, severity: Finding['severity']): Finding {
  return {
    id: 'exposed-without-tls',
    severity,
    message: `the Docker API at ${where(t)} answers plain HTTP${apiVersion ? ` (API ${apiVersion})` : ''}: it is exposed WITHOUT TLS — anyone who can reach this port is root on that host`,
    fix: 'turn on TLS on the daemon (dockward pki server + dockward daemon apply), or bind dockerd to its Unix socket only and put dockward gateway in front',
  };
}

function notDocker(t: Target, p: Probe & { kind: 'http' }): Finding {
  return {
    id: 'not-docker',
    severity: 'error',
    message: p.ping
      ? `${where(t)} answered /_ping with HTTP ${p.ping.status}, not as a Docker daemon would${p.ping.body ? `: ${p.ping.body.trim().slice(0, 200)}` : ''}`
      : `${where(t)} accepted the connection but did not answer HTTP: ${p.error?.message ?? 'no answer'}`,
    fix: 'check that this port belongs to dockerd or dockward gateway',
  };
}

async function diagnoseTls(o: DiagnoseOptions, r: DoctorReport): Promise<void> {
  const t = o.target;
  const b: Bundle = o.bundle ?? { dir: '', files: { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' } };
  if (!b.ca && !o.skipServerVerify) {
    r.findings.push({
      id: 'no-ca',
      severity: 'error',
      message: `there is no ${b.files.ca}: the docker CLI cannot verify the server without it and stops ("open ${b.files.ca}: no such file or directory")`,
      fix: 'copy the ca.pem of the CA that issued the server certificate into the bundle (dockward pki client NAME writes it)',
    });
  }
  if (!!b.cert !== !!b.key) {
    r.findings.push({
      id: 'incomplete-bundle',
      severity: 'error',
      message: `the bundle has ${b.cert ? 'cert.pem but no key.pem' : 'key.pem but no cert.pem'}: the docker CLI needs both to present a client certificate`,
      fix: `put the matching pair in ${b.dir || 'the bundle directory'} (dockward pki client NAME writes both)`,
    });
  }
  // The docker CLI refuses to start with a client pair it cannot load, before connecting (and
  // Node would throw a bare OpenSSL error): that is the whole diagnosis.
  const unusable = b.key === undefined ? undefined : clientPairProblem(b, b.key);
  if (unusable) {
    r.findings.push(unusable);
    return;
  }
  const p = await probeTls(t, b, o.timeoutMs);
  if (p.kind === 'tcp-error') {
    r.findings.push(nothingListening(t, p.error));
    return;
  }
  if (p.kind !== 'tls') return;
  r.protocol = p.protocol;
  if (!p.handshake && isNotTls(p.error)) {
    const plain = await probeHttp(t, o.timeoutMs);
    if (plain.kind === 'http' && plain.ping?.status === 200) {
      r.apiVersion = plain.ping.apiVersion;
      r.findings.push({
        id: 'tls-on-plain-port',
        severity: 'error',
        message: `${where(t)} does not speak TLS (the handshake failed: ${shortTlsError(p.error!)}; the docker CLI says "http: server gave HTTP response to HTTPS client"); it answered plain HTTP instead`,
        fix: 'connect with plain HTTP only if you accept the risk below; better, turn on TLS on that daemon',
      });
      r.findings.push(exposedWithoutTls(t, plain.ping.apiVersion, 'error'));
    } else {
      r.findings.push({ id: 'not-tls', severity: 'error', message: `${where(t)} does not speak TLS (${shortTlsError(p.error!)})`, fix: 'check that this port belongs to a TLS-enabled dockerd or dockward gateway' });
    }
    return;
  }

  const serverPem = p.serverChain[0];
  if (serverPem && b.ca) {
    const host = isIP(t.host) ? { ip: t.host } : { host: t.host };
    r.serverCertificate = await verifyCertificate({ certPem: serverPem, file: 'the server certificate', caPem: b.ca, purpose: 'server', ...host, now: o.now });
    // Without verification the CLI connects whatever the server presents: its problems are not fatal, the setting is.
    addChecks(r, 'server', r.serverCertificate.checks, o.skipServerVerify ? 'warning' : undefined);
  }
  if (o.skipServerVerify) {
    r.findings.push({
      id: 'skip-tls-verify',
      severity: 'warning',
      message: 'this docker context does not verify the server (SkipTLSVerify): anyone on the path can pose as the daemon and receive everything the CLI sends',
      fix: 'recreate the context with verification, e.g. dockward connect tcp://HOST:PORT --bundle DIR --context NAME --force',
    });
  }
  if (b.cert && b.ca) {
    r.clientCertificate = await verifyCertificate({ certPem: b.cert, file: b.files.cert, caPem: b.ca, purpose: 'client', keyPem: b.key, keyFile: b.files.key, now: o.now });
  }

  if (p.error) {
    r.findings.push(...clientRejected(p.error, p.handshake, b, r.clientCertificate, r.serverCertificate));
  } else if (p.ping && gatewayRefusal(p.ping.body)) {
    r.findings.push({
      id: 'refused-by-gateway',
      severity: 'error',
      message: `${where(t)} is dockward's gateway; it completed the TLS handshake and refused the request (HTTP ${p.ping.status}): ${gatewayRefusal(p.ping.body)}`,
      fix: "do what the gateway's answer says; its audit log has the same refusal with this client's address and, where a certificate was presented, its CN and serial",
    });
  } else if (p.ping && p.ping.status !== 200) {
    r.findings.push({ id: 'unexpected-answer', severity: 'error', message: `${where(t)} answered /_ping with HTTP ${p.ping.status}: ${p.ping.body.trim().slice(0, 200)}`, fix: 'check that this port belongs to dockerd or dockward gateway' });
  } else if (p.ping) {
    r.apiVersion = p.ping.apiVersion;
    // Accepted by this server; still say what another server (dockerd vs the gateway) would refuse.
    if (r.clientCertificate) addChecks(r, 'client', r.clientCertificate.checks, 'warning');
  }
}

/** The message of a Docker-style error the gateway wrote (`{"message":"dockward: …"}`), if this is one. */
function gatewayRefusal(body: string): string | undefined {
  try {
    const m = (JSON.parse(body) as { message?: unknown }).message;
    return typeof m === 'string' && m.startsWith('dockward: ') ? m.slice('dockward: '.length) : undefined;
  } catch {
    return undefined;
  }
}

function clientPairProblem(b: Bundle, keyPem: string): Finding | undefined {
  const key = loadDockerKey(keyPem, b.files.key);
  let problem = key instanceof KeyObject ? undefined : key;
  if (!problem && b.cert) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(b.cert);
    } catch {
      return {
        id: 'client-cert-unreadable',
        severity: 'error',
        message: `${b.files.cert} is not a readable PEM certificate: the docker CLI cannot load the client certificate and stops before connecting`,
        fix: 'put the client certificate (PEM) issued with key.pem there (dockward pki client NAME writes both)',
      };
    }
    problem = keyMismatch(cert, key as KeyObject, b.files.key);
  }
  return problem && { id: 'client-key', severity: 'error', message: problem.message, ...(problem.fix ? { fix: problem.fix } : {}) };
}

/** Turns failing or worrying certificate checks into findings, worded for whose certificate it is. */
function addChecks(r: DoctorReport, whose: 'server' | 'client', checks: VerifyCheck[], cap?: 'warning'): void {
  for (const c of checks) {
    if (c.ok && c.severity !== 'warning') continue;
    const severity = cap && c.severity === 'error' ? cap : c.severity;
    r.findings.push({ id: `${whose}-cert-${c.id}`, severity, message: `${whose} certificate: ${c.message}`, ...(c.fix ? { fix: c.fix } : {}) });
  }
}

function shortTlsError(e: NetError): string {
  const m = /:([a-z0-9 _]+):[^:]*\.c:\d+/i.exec(e.message) ?? /SSL routines:[^:]*:([^:]+)/.exec(e.message);
  return m?.[1]?.trim() ?? e.message;
}

function clientRejected(e: NetError, handshake: boolean, b: Bundle, client: VerifyReport | undefined, server: VerifyReport | undefined): Finding[] {
  const alertName = e.alert !== undefined ? TLS_ALERTS[e.alert] ?? `alert ${e.alert}` : undefined;
  // dockerd answers a refused client certificate with an alert; Node's TLS servers just drop the
  // connection once the handshake is done (dockward's gateway answers with the reason instead).
  const silentDrop = !alertName && handshake && !!b.cert && ['ECONNRESET', 'EPIPE'].includes(e.code);
  if (!alertName && !silentDrop) {
    return [
      {
        id: handshake ? 'connection-dropped' : 'tls-failed',
        severity: 'error',
        message: handshake ? `the server closed the connection after the TLS handshake (${e.code}: ${e.message})` : `the TLS handshake failed: ${shortTlsError(e)}`,
        fix: 'look at the server\'s log (dockerd logs "http: TLS handshake error from …: <reason>")',
      },
    ];
  }
  const said = alertName ? `the server refused the connection with the TLS alert "${alertName}"` : 'the server dropped the connection right after the TLS handshake, without a TLS alert';
  if (!b.cert) {
    return [
      {
        id: 'client-cert-required',
        severity: 'error',
        message: `${said}: it wants a client certificate, and none was given${b.dir ? ` (${b.dir} has no cert.pem and key.pem)` : ''}`,
        fix: 'get a client bundle (dockward pki client NAME on the CA host) and use its directory: --bundle DIR or DOCKER_CERT_PATH=DIR',
      },
    ];
  }
  if (e.alert === 44) {
    return [
      {
        id: 'client-cert-revoked',
        severity: 'error',
        message: `${said}: your client certificate ${b.files.cert} is revoked. dockerd never checks revocation, so this server is a proxy that enforces a CRL`,
        fix: 'ask for a new client certificate (dockward pki client NAME) and replace cert.pem and key.pem',
      },
    ];
  }
  const causes = (client?.checks ?? []).filter((c) => !c.ok && c.severity === 'error' && ['chain', 'ca-validity', 'validity', 'eku', 'key', 'key-type'].includes(c.id));
  if (causes.length) {
    return causes.map((c) => ({ id: `client-cert-${c.id}`, severity: 'error' as const, message: `${said}, because of your client certificate ${b.files.cert}: ${c.message}`, ...(c.fix ? { fix: c.fix } : {}) }));
  }
  if (e.alert === 45) {
    return [{ id: 'client-cert-validity', severity: 'error', message: `${said}: the server considers your client certificate expired (check this machine's and the server's clocks)`, fix: 'issue a new client certificate (dockward pki client NAME)' }];
  }
  if (silentDrop) {
    return [
      {
        id: 'client-cert-refused',
        severity: 'error',
        message:
          `${said}. That is how a Node.js TLS server that checks a CRL refuses a client certificate, and ${b.files.cert} looks valid against your ca.pem — ` +
          'so it is most likely revoked (the gateway enforces the CRL; dockerd never checks revocation), or the gateway\'s CRL has expired ' +
          '(then it refuses every client), or the gateway trusts another CA',
        fix:
          'check it with dockward pki verify --crl (on the CA host) and ask for a new client certificate (dockward pki client NAME); ' +
          'if every client is refused, refresh the CRL with dockward pki crl on the CA host; the gateway\'s audit log names the reason',
      },
    ];
  }
  const serverIssuer = server?.issuer;
  const clientIssuer = client?.issuer;
  const why =
    serverIssuer && clientIssuer && serverIssuer !== clientIssuer
      ? `the server's own certificate comes from "${serverIssuer}" and yours from "${clientIssuer}": the server most likely trusts only its own CA`
      : 'so the server trusts another CA than the one that issued it, or it enforces revocation or a policy';
  return [
    {
      id: 'client-cert-rejected',
      severity: 'error',
      message: `${said}: it refused your client certificate ${b.files.cert}, which looks valid against your ca.pem — ${why}`,
      fix: 'get a client certificate from the CA the server trusts (its --tlscacert), and check the server\'s log for the exact reason',
    },
  ];
}

/** The human form of a report: one block per finding, the fix under it, the verdict last. */
export function formatDoctorReport(r: DoctorReport): string {
  const mark = { error: 'ERROR  ', warning: 'WARNING', info: 'OK     ' } as const;
  const lines = [`dockward doctor: ${r.target}${r.context ? ` (context ${r.context})` : ''} (${r.tls ? `TLS, bundle ${r.bundle || 'none'}` : 'plain HTTP: no TLS configured'})`];
  for (const f of r.findings) {
    lines.push(`${mark[f.severity]} ${f.message}`);
    if (f.fix) lines.push(`        fix: ${f.fix}`);
  }
  lines.push(r.ok ? 'connection OK' : 'connection FAILED');
  return lines.join('\n') + '\n';
}
