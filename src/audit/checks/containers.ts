import type { ContainerInspect } from '../engine-facts.js';
import { setting } from '../host-facts.js';
import type { CheckContext, Findings } from '../context.js';

/**
 * Every container, stopped ones included: a stopped container's configuration is what runs the
 * next time anyone starts it. Read from one inspect each; environment values are never read out.
 */

const SOCKETS = /(^|\/)(docker|containerd|dockershim|cri-dockerd|podman)\.sock$|^\/run\/containerd(\/|$)|^\/var\/run\/docker(\/|$)/;
/** Host paths a container should not see, as a whole or anything below; a read-write mount is worse than a read-only one. */
const SENSITIVE_TREES = ['/etc', '/proc', '/sys', '/boot', '/dev', '/root', '/var/lib/docker', '/var/lib/containerd'];
const SENSITIVE_DIRS = ['/', '/usr', '/lib', '/lib64', '/bin', '/sbin', '/run', '/var/run', '/var', '/var/log', '/home'];
const sensitive = (src: string) => SENSITIVE_DIRS.includes(src) || SENSITIVE_TREES.some((p) => src === p || src.startsWith(`${p}/`));
/** Capabilities that break isolation or give the host's administration (beyond Docker's default set). */
const DANGEROUS_CAPS = new Set(['ALL', 'SYS_ADMIN', 'SYS_MODULE', 'SYS_PTRACE', 'SYS_RAWIO', 'SYS_BOOT', 'SYS_TIME', 'NET_ADMIN', 'DAC_READ_SEARCH', 'BPF', 'PERFMON', 'SYSLOG', 'MAC_ADMIN', 'MAC_OVERRIDE', 'LINUX_IMMUTABLE', 'SYS_RESOURCE']);
const SECRET_NAME = /(PASS(WORD|WD)?|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?|AUTH)($|_)/i;

const isRoot = (user: string | undefined) => !user || /^(root|0)(:|$)/.test(user);
const capName = (c: string) => c.toUpperCase().replace(/^CAP_/, '');
const nameOf = (c: ContainerInspect) => c.Name.replace(/^\//, '');

function container(c: ContainerInspect, daemonNnp: boolean, out: Findings): void {
  const hc = c.HostConfig ?? {};
  const subject = `container ${nameOf(c)}`;
  const state = c.State?.Status ? ` (${c.State.Status})` : '';
  const ev = (s: string) => [`${nameOf(c)} ${c.Id.slice(0, 12)}${state}: ${s}`];
  const secOpts = hc.SecurityOpt ?? [];
  if (hc.Privileged) out.add('DW-CTR-PRIVILEGED-001', { subject, message: 'runs privileged: every device and capability of the host', evidence: ev('HostConfig.Privileged: true') });
  for (const m of c.Mounts ?? []) {
    if (m.Type !== 'bind' || !m.Source) continue;
    const src = m.Source.replace(/\/+$/, '') || '/';
    if (SOCKETS.test(src)) {
      out.add('DW-CTR-SOCKET-001', { subject, message: `${src} is mounted at ${m.Destination}${m.RW ? '' : ' (read-only: the API is still fully usable)'}: the container controls the daemon, i.e. is root on the host`, evidence: ev(`Mounts: ${src} -> ${m.Destination} RW=${m.RW}`) });
    } else if (sensitive(src)) {
      out.add('DW-CTR-MOUNT-001', { subject, severity: m.RW ? 'high' : 'medium', message: `host path ${src} is mounted ${m.RW ? 'read-write' : 'read-only'} at ${m.Destination}`, evidence: ev(`Mounts: ${src} -> ${m.Destination} RW=${m.RW}`) });
    }
  }
  const caps = (hc.CapAdd ?? []).map(capName).filter((x) => DANGEROUS_CAPS.has(x));
  if (caps.length) out.add('DW-CTR-CAP-001', { subject, severity: caps.includes('ALL') || caps.includes('SYS_ADMIN') || caps.includes('SYS_MODULE') ? 'high' : 'medium', message: `adds ${caps.join(', ')}`, evidence: ev(`HostConfig.CapAdd: ${(hc.CapAdd ?? []).join(', ')}`) });
  if (secOpts.some((o) => /^seccomp[=:]unconfined$/.test(o))) out.add('DW-CTR-SECCOMP-001', { subject, message: 'runs without seccomp', evidence: ev(`HostConfig.SecurityOpt: ${secOpts.join(', ')}`) });
  if (secOpts.some((o) => /^apparmor[=:]unconfined$/.test(o))) out.add('DW-CTR-APPARMOR-001', { subject, message: 'runs without AppArmor', evidence: ev(`HostConfig.SecurityOpt: ${secOpts.join(', ')}`) });
  if (!hc.Privileged && (secOpts.some((o) => /^systempaths[=:]unconfined$/.test(o)) || (Array.isArray(hc.MaskedPaths) && hc.MaskedPaths.length === 0))) {
    out.add('DW-CTR-SYSTEMPATHS-001', { subject, message: '/proc and /sys paths that are normally masked are visible and writable', evidence: ev(`HostConfig.MaskedPaths: ${JSON.stringify(hc.MaskedPaths)}`) });
  }
  const ns: [string | undefined, string, string][] = [
    [hc.NetworkMode, 'DW-CTR-HOSTNS-NET-001', 'NetworkMode'],
    [hc.PidMode, 'DW-CTR-HOSTNS-PID-001', 'PidMode'],
    [hc.IpcMode, 'DW-CTR-HOSTNS-IPC-001', 'IpcMode'],
    [hc.UTSMode, 'DW-CTR-HOSTNS-UTS-001', 'UTSMode'],
    [hc.UsernsMode, 'DW-CTR-HOSTNS-USER-001', 'UsernsMode'],
  ];
  for (const [mode, id, field] of ns) if (mode === 'host') out.add(id, { subject, message: `shares the host's ${field.replace(/Mode$/, '').toLowerCase()} namespace`, evidence: ev(`HostConfig.${field}: host`) });
  if (hc.Devices?.length) out.add('DW-CTR-DEVICE-001', { subject, message: `host devices ${hc.Devices.map((d) => d.PathOnHost).join(', ')}`, evidence: ev(`HostConfig.Devices: ${hc.Devices.map((d) => `${d.PathOnHost}:${d.PathInContainer}`).join(', ')}`) });
  const user = c.Config?.User ?? '';
  if (isRoot(user)) out.add('DW-CTR-ROOT-001', { subject, message: 'runs as root', evidence: ev(`Config.User: ${JSON.stringify(user)}`) });
  if (!daemonNnp && !secOpts.some((o) => /^no-new-privileges(?:$|[=:]true$)/.test(o))) out.add('DW-CTR-NNP-001', { subject, message: 'processes may gain privileges through setuid binaries', evidence: ev(`HostConfig.SecurityOpt: ${secOpts.join(', ') || '(none)'}`) });
  if (!hc.ReadonlyRootfs) out.add('DW-CTR-ROFS-001', { subject, message: 'root filesystem is writable', evidence: ev('HostConfig.ReadonlyRootfs: false') });
  if (!hc.Memory) out.add('DW-CTR-MEMORY-001', { subject, message: 'no memory limit', evidence: ev('HostConfig.Memory: 0') });
  if (!hc.PidsLimit || hc.PidsLimit < 0) out.add('DW-CTR-PIDS-001', { subject, message: 'no PIDs limit: a fork bomb takes the host down', evidence: ev(`HostConfig.PidsLimit: ${hc.PidsLimit ?? null}`) });
  for (const [port, bindings] of Object.entries(hc.PortBindings ?? {})) {
    for (const b of bindings ?? []) {
      if (!b.HostIp || b.HostIp === '0.0.0.0' || b.HostIp === '::') out.add('DW-CTR-PORT-001', { subject, message: `${port} is published on every host address (port ${b.HostPort || 'random'})`, evidence: ev(`HostConfig.PortBindings ${port}: HostIp ${JSON.stringify(b.HostIp ?? '')}`) });
    }
  }
  const secretNames = (c.Config?.Env ?? []).map((e) => e.slice(0, Math.max(0, e.indexOf('=')))).filter((n) => n && SECRET_NAME.test(n));
  if (secretNames.length) out.add('DW-CTR-ENV-001', { subject, message: `environment variables that look like secrets: ${secretNames.join(', ')} (values not shown)`, evidence: ev(`Config.Env names: ${secretNames.join(', ')}`) });
}

export function containerChecks(ctx: CheckContext, out: Findings): void {
  // The daemon-wide default applies to every container, though no container's inspect shows it.
  const daemonNnp = !!ctx.host && setting(ctx.host, 'no-new-privileges')?.value === true;
  for (const c of ctx.engine.containers) container(c, daemonNnp, out);
  for (const i of ctx.engine.images) {
    if (!isRoot(i.Config?.User)) continue;
    const name = i.RepoTags?.find((t) => t !== '<none>:<none>') ?? i.Id.replace(/^sha256:/, '').slice(0, 12);
    out.add('DW-IMG-ROOT-001', { subject: `image ${name}`, message: 'has no USER: its containers run as root unless they set --user', evidence: [`${name} ${i.Id.replace(/^sha256:/, '').slice(0, 12)}: Config.User ${JSON.stringify(i.Config?.User ?? '')}`] });
  }
}
