import ipaddr from 'ipaddr.js';
import { isTcpHost } from '../../daemon/hosts.js';
import { unknownKeys, dockerdKeys } from '../../daemon/known-keys.js';
import { engineRequest } from '../../engine/engine-client.js';
import { setting, type HostFacts } from '../host-facts.js';
import type { CheckContext, Findings } from '../context.js';

/**
 * The daemon's settings. The Engine API is the truth wherever it shows a setting (/info, the
 * default bridge, an answer over the wire); daemon.json and dockerd's flags are the evidence of
 * why, and what the API cannot show (no-new-privileges, userland-proxy) is read from them alone.
 */

/** A listener's host part: loopback only is `high`, anything reachable beyond the machine `critical`. */
function loopbackOnly(address: string): boolean {
  const host = address.replace(/^tcp:\/\//, '').replace(/:\d*$/, '').replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost') return true;
  if (!ipaddr.isValid(host)) return false;
  const ip = ipaddr.process(host);
  return ip.range() === 'loopback';
}

const show = (v: unknown) => JSON.stringify(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

async function tcpListeners(ctx: CheckContext, out: Findings): Promise<void> {
  const reported = new Set<string>();
  const { target } = ctx;
  const ep = target.endpoint;
  if ('host' in ep) {
    const address = `tcp://${ep.host}:${ep.port}`;
    const severity = loopbackOnly(address) ? 'high' : 'critical';
    if (target.transport === 'tcp') {
      reported.add(address);
      out.add('DW-DAEMON-TLS-001', { subject: address, severity, message: `the Engine API answers on ${address} without TLS: anyone who reaches it is root on the host`, evidence: [`GET /version over plain TCP to ${address} answered (API ${ctx.engine.version.ApiVersion ?? '?'})`] });
    } else if (ep.tls) {
      // Whether dockerd checks client certificates is seen by asking without one.
      const anon = await engineRequest({ host: ep.host, port: ep.port, tls: { ca: ep.tls.ca } }, 'GET', '/_ping', { timeoutMs: 10_000 }).catch(() => undefined);
      if (anon?.status === 200) {
        reported.add(address);
        out.add('DW-DAEMON-TLS-002', { subject: address, severity, message: `${address} serves TLS but answers clients without a certificate`, evidence: [`GET /_ping over TLS without a client certificate answered ${anon.status}`] });
      }
    }
  }
  const h = ctx.host;
  if (!h) return;
  const tls = setting(h, 'tls');
  const verify = setting(h, 'tlsverify');
  // Both places: with "hosts" in the file and -H on the command line dockerd does not start, and
  // whichever is fixed, the other's listener is what will run.
  const listeners = [
    ...h.flags.filter((f) => f.name === 'host').map((f) => ({ addr: f.value, source: h.flagsFrom })),
    ...list(h.parsed?.config?.hosts).map((addr) => ({ addr, source: h.configPath })),
  ];
  for (const { addr, source } of listeners) {
    if (!isTcpHost(addr)) continue;
    const address = addr.startsWith('tcp://') ? addr : `tcp://${addr}`;
    if (reported.has(address)) continue;
    reported.add(address);
    const severity = loopbackOnly(address) ? 'high' : 'critical';
    const evidence = [`hosts: ${address} (${source})`, `tlsverify: ${show(verify?.value ?? false)}${verify ? ` (${verify.source})` : ' (not set)'}`];
    const file = source === h.configPath ? h.configPath : undefined;
    // dockerd turns TLS on for --tls or any --tlsverify (even =false), and then verifies clients
    // unless tlsverify is explicitly false (checked with 20.10 and 28.5: `--tls --tlscacert` alone
    // refuses a client without a certificate).
    if (tls?.value !== true && verify === undefined) {
      out.add('DW-DAEMON-TLS-001', { subject: address, severity, file, message: `${address} is a TCP listener without TLS: anyone who reaches it is root`, evidence });
    } else if (verify?.value === false) {
      out.add('DW-DAEMON-TLS-002', { subject: address, severity, file, message: `${address} serves TLS without verifying clients: anyone who reaches it is root`, evidence });
    }
  }
}

function securityOptions(ctx: CheckContext): string[] {
  return ctx.engine.info.SecurityOptions ?? [];
}

function userns(ctx: CheckContext, out: Findings): void {
  const opts = securityOptions(ctx);
  if (opts.some((o) => o === 'name=userns' || o === 'name=rootless')) return;
  const evidence = [`/info SecurityOptions: ${opts.join(', ') || '(none)'}`];
  const p = ctx.host?.process;
  if (p) evidence.push(`dockerd (pid ${p.pid}) runs as uid ${p.uid}`);
  const configured = ctx.host && setting(ctx.host, 'userns-remap');
  if (configured) evidence.push(`userns-remap: ${show(configured.value)} (${configured.source}) is configured but not in effect`);
  out.add('DW-DAEMON-USERNS-001', { subject: 'daemon', message: 'root in a container is root on the host: no userns-remap, not rootless', evidence });
  if (configured?.value) {
    out.add('DW-DAEMON-DRIFT-001', { subject: 'userns-remap', message: `userns-remap is configured (${configured.source}) but the running daemon does not have it`, evidence: [`/info SecurityOptions: ${opts.join(', ') || '(none)'}`, `userns-remap: ${show(configured.value)} (${configured.source})`] });
  }
}

function icc(ctx: CheckContext, out: Findings): void {
  const bridge = ctx.engine.networks.find((n) => n.Name === 'bridge' && n.Driver === 'bridge');
  // Without a default bridge (--bridge=none) there is nothing icc could allow.
  if (!bridge) return;
  const value = bridge.Options?.['com.docker.network.bridge.enable_icc'];
  if (value === 'false') return;
  const evidence = [`network bridge: com.docker.network.bridge.enable_icc=${value ?? '(unset: true)'}`];
  const configured = ctx.host && setting(ctx.host, 'icc');
  if (configured) evidence.push(`icc: ${show(configured.value)} (${configured.source})`);
  out.add('DW-DAEMON-ICC-001', { subject: 'network bridge', message: 'containers on the default bridge can reach each other', evidence });
}

function hostOnlySettings(h: HostFacts, out: Findings): void {
  const nnp = setting(h, 'no-new-privileges');
  if (nnp?.value !== true) {
    out.add('DW-DAEMON-NNP-001', { subject: 'daemon', message: 'no-new-privileges is not the daemon default', evidence: [nnp ? `no-new-privileges: ${show(nnp.value)} (${nnp.source})` : `no-new-privileges not set in ${h.configPath} nor on dockerd's command line (${h.flagsFrom})`] });
  }
  const proxy = setting(h, 'userland-proxy');
  if (proxy?.value !== false) {
    out.add('DW-DAEMON-PROXY-001', { subject: 'daemon', message: 'userland-proxy is on (the default)', evidence: [proxy ? `userland-proxy: ${show(proxy.value)} (${proxy.source})` : `userland-proxy not set in ${h.configPath} nor on dockerd's command line: dockerd's default is true`] });
  }
}

function liveRestore(ctx: CheckContext, out: Findings): void {
  const info = ctx.engine.info;
  // dockerd refuses live-restore in swarm mode: not a finding there.
  if (info.LiveRestoreEnabled !== false || info.Swarm?.LocalNodeState === 'active') return;
  const evidence = ['/info LiveRestoreEnabled: false'];
  const configured = ctx.host && setting(ctx.host, 'live-restore');
  if (configured) evidence.push(`live-restore: ${show(configured.value)} (${configured.source})`);
  out.add('DW-DAEMON-LIVE-001', { subject: 'daemon', message: 'live-restore is off', evidence });
  if (configured?.value === true) {
    out.add('DW-DAEMON-DRIFT-001', { subject: 'live-restore', message: `live-restore is configured (${configured.source}) but the running daemon does not have it`, evidence: ['/info LiveRestoreEnabled: false', `live-restore: true (${configured.source})`] });
  }
}

/** Rotation is seen on the containers themselves (they carry the daemon's log options); without any, in the files. */
function logRotation(ctx: CheckContext, out: Findings): void {
  const driver = ctx.engine.info.LoggingDriver;
  const rotated = (type: string | undefined, opts: Record<string, string> | undefined) => type !== 'json-file' || !!opts?.['max-size'];
  const containers = ctx.engine.containers.filter((c) => c.HostConfig?.LogConfig);
  if (containers.length) {
    const bad = containers.filter((c) => !rotated(c.HostConfig!.LogConfig!.Type, c.HostConfig!.LogConfig!.Config));
    if (!bad.length) return;
    out.add('DW-DAEMON-LOG-001', {
      subject: 'daemon',
      message: `${bad.length} of ${containers.length} containers log to json-file without max-size: their logs grow until the disk is full`,
      evidence: [`/info LoggingDriver: ${driver}`, ...bad.slice(0, 5).map((c) => `container ${c.Name.replace(/^\//, '')}: LogConfig ${show(c.HostConfig!.LogConfig)}`)],
    });
    return;
  }
  const h = ctx.host;
  if (!h || driver !== 'json-file') return;
  const opts = setting(h, 'log-opts');
  if (rotated(driver, opts?.value as Record<string, string> | undefined)) return;
  out.add('DW-DAEMON-LOG-001', { subject: 'daemon', message: 'json-file logs without max-size: they grow until the disk is full', evidence: [`/info LoggingDriver: ${driver}`, opts ? `log-opts: ${show(opts.value)} (${opts.source})` : `no log-opts in ${h.configPath}`] });
}

function seccomp(ctx: CheckContext, out: Findings): void {
  const opts = securityOptions(ctx);
  const entry = opts.find((o) => o.startsWith('name=seccomp'));
  if (entry && !/profile=unconfined/.test(entry)) return;
  out.add('DW-DAEMON-SECCOMP-001', { subject: 'daemon', message: entry ? 'the daemon-wide seccomp profile is unconfined' : 'seccomp is not in effect', evidence: [`/info SecurityOptions: ${opts.join(', ') || '(none)'}`] });
}

const DEFAULT_INSECURE = new Set(['127.0.0.0/8', '::1/128']);

function registries(ctx: CheckContext, out: Findings): void {
  const rc = ctx.engine.info.RegistryConfig;
  const cidrs = (rc?.InsecureRegistryCIDRs ?? []).filter((c) => !DEFAULT_INSECURE.has(c));
  const names = Object.values(rc?.IndexConfigs ?? {}).filter((i) => !i.Secure).map((i) => i.Name);
  if (!cidrs.length && !names.length) return;
  out.add('DW-DAEMON-REGISTRY-001', { subject: 'daemon', message: `images are pulled without TLS verification from ${[...names, ...cidrs].join(', ')}`, evidence: [`/info RegistryConfig: insecure ${[...names, ...cidrs].join(', ')}`] });
}

function experimental(ctx: CheckContext, out: Findings): void {
  if (ctx.engine.info.ExperimentalBuild) out.add('DW-DAEMON-EXPERIMENTAL-001', { subject: 'daemon', message: 'experimental features are on', evidence: ['/info ExperimentalBuild: true'] });
}

function authorization(ctx: CheckContext, out: Findings): void {
  const plugins = ctx.engine.info.Plugins?.Authorization ?? [];
  if (plugins.length) return;
  out.add('DW-DAEMON-AUTHZ-001', { subject: 'daemon', message: 'every client the daemon accepts can do everything', evidence: ['/info Plugins.Authorization: (none)'] });
}

function configFile(ctx: CheckContext, out: Findings): void {
  const h = ctx.host!;
  const parsed = h.parsed;
  if (parsed) {
    for (const i of parsed.issues) {
      out.add('DW-DAEMON-CONFIG-001', { subject: h.configPath, file: h.configPath, severity: i.kind === 'duplicate-key' ? 'medium' : 'high', message: `${i.message} on line ${i.line}`, evidence: [`${h.configPath}:${i.line}: ${i.message}`] });
    }
    const major = Number(/^(\d+)\./.exec(ctx.engine.version.Version ?? '')?.[1] ?? 28);
    for (const k of parsed.config ? unknownKeys(parsed.config, dockerdKeys(major)) : []) {
      out.add('DW-DAEMON-CONFIG-001', { subject: h.configPath, file: h.configPath, message: `unknown key "${k.key}"${k.parent ? ` (in "${k.parent}")` : ''}: dockerd ${ctx.engine.version.Version ?? ''} refuses to start`, evidence: [`${h.configPath}: "${k.key}"`, k.hint] });
    }
    if (parsed.config && 'hosts' in parsed.config && h.flags.some((f) => f.name === 'host')) {
      out.add('DW-DAEMON-HOSTS-001', { subject: h.configPath, file: h.configPath, message: '"hosts" in daemon.json and -H on the command line: dockerd refuses to start with both', evidence: [`${h.configPath}: "hosts": ${show(parsed.config.hosts)}`, `-H ${h.flags.filter((f) => f.name === 'host').map((f) => f.value).join(' -H ')} (${h.flagsFrom})`] });
    }
  }
}

function drift(ctx: CheckContext, out: Findings): void {
  const h = ctx.host!;
  const info = ctx.engine.info;
  const driver = setting(h, 'log-driver');
  if (typeof driver?.value === 'string' && info.LoggingDriver && driver.value !== info.LoggingDriver) {
    out.add('DW-DAEMON-DRIFT-001', { subject: 'log-driver', message: `log-driver ${driver.value} is configured but the daemon uses ${info.LoggingDriver}`, evidence: [`log-driver: ${show(driver.value)} (${driver.source})`, `/info LoggingDriver: ${info.LoggingDriver}`] });
  }
  const exp = setting(h, 'experimental');
  if (typeof exp?.value === 'boolean' && exp.value !== Boolean(info.ExperimentalBuild)) {
    out.add('DW-DAEMON-DRIFT-001', { subject: 'experimental', message: `experimental: ${exp.value} is configured but the daemon runs with ${Boolean(info.ExperimentalBuild)}`, evidence: [`experimental: ${exp.value} (${exp.source})`, `/info ExperimentalBuild: ${Boolean(info.ExperimentalBuild)}`] });
  }
  const remap = setting(h, 'userns-remap');
  const opts = info.SecurityOptions ?? [];
  if (!remap?.value && opts.includes('name=userns')) {
    out.add('DW-DAEMON-DRIFT-001', { subject: 'userns-remap', severity: 'info', message: `userns-remap is in effect but not configured in ${h.configPath} or ${h.flagsFrom}: the next restart may turn it off`, evidence: [`/info SecurityOptions: ${opts.join(', ')}`] });
  }
}

export async function daemonChecks(ctx: CheckContext, out: Findings): Promise<void> {
  await tcpListeners(ctx, out);
  userns(ctx, out);
  icc(ctx, out);
  liveRestore(ctx, out);
  logRotation(ctx, out);
  seccomp(ctx, out);
  registries(ctx, out);
  experimental(ctx, out);
  authorization(ctx, out);
  if (ctx.host) {
    hostOnlySettings(ctx.host, out);
    configFile(ctx, out);
    drift(ctx, out);
  }
}
