/**
 * What each profile puts in daemon.json, and why. The why is printed in the plan: a setting
 * nobody can explain gets reverted by the next person who edits the file.
 */
export type ProfileName = 'baseline' | 'hardened';

export interface ProfileSetting {
  key: string;
  value: unknown;
  why: string;
  /** The user's own value is kept unless the profile must have this one (a security property). */
  enforce: boolean;
}

export const LOG_ROTATION = { 'max-size': '10m', 'max-file': '3' };

const BASELINE: ProfileSetting[] = [
  {
    key: 'log-driver',
    value: 'json-file',
    why: 'container logs are kept as files dockerd rotates; json-file keeps `docker logs` and log shippers that read /var/lib/docker/containers/*/*-json.log working',
    enforce: false,
  },
  {
    key: 'log-opts',
    value: LOG_ROTATION,
    why: 'max-size/max-file rotate each container log at 10 MB and keep 3 files, so a chatty container cannot fill the disk (applies to containers created after the restart)',
    enforce: false,
  },
  {
    key: 'live-restore',
    value: true,
    why: 'containers keep running while dockerd restarts, so later restarts (a new TLS certificate, a configuration change) do not stop workloads; the restart that turns it on still stops them, as the running dockerd does not have it yet',
    enforce: false,
  },
];

export const USERNS_WHY =
  'root in a container is an unprivileged subordinate uid on the host, so a container escape is not host root. Images and containers created before are kept under the old data directory and are not visible until userns-remap is turned off again; containers needing host namespaces must use `--userns=host`';

const HARDENED: ProfileSetting[] = [
  ...BASELINE,
  {
    key: 'icc',
    value: false,
    why: 'containers on the default bridge can no longer reach each other (dockerd enforces it with iptables); user-defined networks are not affected, so put only containers that must talk on a shared network',
    enforce: true,
  },
  {
    key: 'no-new-privileges',
    value: true,
    why: 'processes in containers cannot gain privileges through setuid/setcap binaries (sudo, ping with file caps) unless a container opts out',
    enforce: true,
  },
  {
    key: 'userland-proxy',
    value: false,
    why: 'no root docker-proxy process per published port: traffic from the host itself is forwarded by iptables NAT like the rest, so less root code handles untrusted connections',
    enforce: true,
  },
  { key: 'userns-remap', value: 'default', why: USERNS_WHY, enforce: true },
];

export function profileSettings(name: ProfileName): ProfileSetting[] {
  return name === 'hardened' ? HARDENED : BASELINE;
}

export const TLS_WHY =
  'the TCP listener accepts only clients with a certificate signed by the dockward CA (mutual TLS); without tlsverify anyone who reaches the port is root on this host';
