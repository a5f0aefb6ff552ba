import type { Check } from '../report/finding.js';

/**
 * Every check `dockward audit` runs, by stable id. An id never changes meaning once published:
 * baselines, SARIF rule ids and CI gates refer to it. CIS refs are the CIS Docker Benchmark 1.6.0.
 */
const CHECKS: Check[] = [
  // --- the daemon: the Engine API says what is in effect; daemon.json, the unit and dockerd's flags say why
  { id: 'DW-DAEMON-TLS-001', category: 'daemon', severity: 'critical', cis: '2.7', title: 'Engine API on TCP without TLS',
    remediation: 'serve TCP with mutual TLS: `dockward daemon apply --tls --listen tcp://ADDR:2376`, or put `dockward gateway` in front and remove the plain TCP listener' },
  { id: 'DW-DAEMON-TLS-002', category: 'daemon', severity: 'critical', cis: '2.7', title: 'TLS without client verification (tlsverify off)',
    remediation: 'require client certificates: `dockward daemon apply --tls` sets tlsverify with the dockward CA' },
  { id: 'DW-DAEMON-ICC-001', category: 'daemon', severity: 'medium', cis: '2.2', title: 'Containers on the default bridge can reach each other (icc)',
    remediation: '`dockward daemon apply --profile hardened` sets "icc": false' },
  { id: 'DW-DAEMON-USERNS-001', category: 'daemon', severity: 'medium', cis: '2.9', title: 'Container root is host root: dockerd runs as root without userns-remap',
    remediation: '`dockward daemon apply --profile hardened` (userns-remap default), or run Docker rootless' },
  { id: 'DW-DAEMON-NNP-001', category: 'daemon', severity: 'medium', cis: '2.14', title: 'Containers may gain privileges (no-new-privileges off)',
    remediation: '`dockward daemon apply --profile hardened` sets "no-new-privileges": true' },
  { id: 'DW-DAEMON-LIVE-001', category: 'daemon', severity: 'low', cis: '2.15', title: 'live-restore off: a daemon restart stops every container',
    remediation: '`dockward daemon apply` sets "live-restore": true (not on swarm managers)' },
  { id: 'DW-DAEMON-LOG-001', category: 'daemon', severity: 'medium', title: 'Container logs are not rotated',
    remediation: '`dockward daemon apply` sets log-opts max-size/max-file for json-file (new containers get it)' },
  { id: 'DW-DAEMON-SECCOMP-001', category: 'daemon', severity: 'high', cis: '2.17', title: 'Seccomp disabled daemon-wide',
    remediation: 'remove "seccomp-profile": "unconfined" from daemon.json (or the --seccomp-profile flag) and restart dockerd' },
  { id: 'DW-DAEMON-REGISTRY-001', category: 'daemon', severity: 'medium', cis: '2.5', title: 'Insecure registries allowed',
    remediation: 'remove "insecure-registries" (or --insecure-registry) and give the registry a certificate' },
  { id: 'DW-DAEMON-EXPERIMENTAL-001', category: 'daemon', severity: 'low', cis: '2.18', title: 'Experimental features on',
    remediation: 'remove "experimental": true from daemon.json (or --experimental) unless you need a feature it gates' },
  { id: 'DW-DAEMON-PROXY-001', category: 'daemon', severity: 'low', cis: '2.16', title: 'userland-proxy on: a root docker-proxy per published port',
    remediation: '`dockward daemon apply --profile hardened` sets "userland-proxy": false' },
  { id: 'DW-DAEMON-AUTHZ-001', category: 'daemon', severity: 'info', cis: '2.12', title: 'No authorization of API requests',
    remediation: 'let clients in through `dockward gateway` (per-identity policy, body inspection, audit log) instead of the daemon socket or port' },
  { id: 'DW-DAEMON-CONFIG-001', category: 'daemon', severity: 'high', title: 'daemon.json dockerd cannot read, or keys it refuses',
    remediation: '`dockward daemon plan` shows every problem with its line; `dockward daemon apply` rewrites the file as strict JSON' },
  { id: 'DW-DAEMON-HOSTS-001', category: 'daemon', severity: 'high', title: '"hosts" in daemon.json and -H on the command line: dockerd will not start',
    remediation: '`dockward daemon apply` writes the systemd drop-in that removes -H from ExecStart' },
  { id: 'DW-DAEMON-DRIFT-001', category: 'daemon', severity: 'medium', title: 'Configured but not in effect',
    remediation: 'restart dockerd (`systemctl restart docker`) so the configuration files are what runs, or remove the setting' },
  // --- files on the Docker host: modes compared bit by bit
  { id: 'DW-FILE-SOCKET-001', category: 'files', severity: 'critical', cis: '3.16', title: 'Docker socket accessible beyond root and the docker group',
    remediation: 'chmod 660 the socket and chown root:docker (docker.socket: SocketMode=0660, SocketGroup=docker); give tools a `dockward gateway` Unix listener instead' },
  { id: 'DW-FILE-GROUP-001', category: 'files', severity: 'low', cis: '1.1.2', title: 'Users in the docker group are root on this host',
    remediation: 'remove users who do not need root from the docker group; give them a dockward client certificate and a gateway policy instead' },
  { id: 'DW-FILE-CONFIG-001', category: 'files', severity: 'high', cis: '3.18', title: 'Docker configuration writable by others than root',
    remediation: 'chown root:root and chmod 644 (go-w) daemon.json, the docker units and their drop-ins' },
  { id: 'DW-FILE-KEY-001', category: 'files', severity: 'high', cis: '3.14', title: 'TLS private key readable by group or others',
    remediation: 'chmod 400 the key (dockward pki writes keys 0400)' },
  // --- TLS material dockerd serves
  { id: 'DW-TLS-EXPIRY-001', category: 'tls', severity: 'high', title: 'TLS certificate expired or expiring',
    remediation: '`dockward pki renew` (or `dockward pki server`), then restart dockerd: it does not reload certificates' },
  { id: 'DW-TLS-KEY-001', category: 'tls', severity: 'high', title: 'Weak TLS key',
    remediation: 'reissue with `dockward pki server` (ECDSA P-256 by default)' },
  { id: 'DW-TLS-PROFILE-001', category: 'tls', severity: 'medium', title: 'Server certificate Docker clients refuse (EKU or SAN)',
    remediation: 'reissue with `dockward pki server --host NAME --ip IP` (serverAuth EKU, a SAN for every name)' },
  // --- containers, stopped ones included
  { id: 'DW-CTR-PRIVILEGED-001', category: 'container', severity: 'critical', cis: '5.5', title: 'Privileged container',
    remediation: 'drop --privileged; add only the capabilities and devices it needs. Enforce it for API clients with a `dockward gateway` policy (privileged: false)' },
  { id: 'DW-CTR-SOCKET-001', category: 'container', severity: 'critical', cis: '5.32', title: 'Docker or containerd socket mounted into a container (read-only too: still root)',
    remediation: 'mount a `dockward gateway` Unix listener with a least-privilege policy instead (`dockward policy suggest` writes one from audit-only mode)' },
  { id: 'DW-CTR-MOUNT-001', category: 'container', severity: 'high', cis: '5.6', title: 'Sensitive host path mounted',
    remediation: 'mount only the directories the container needs, read-only where it can; a gateway policy allowlists bind paths' },
  { id: 'DW-CTR-CAP-001', category: 'container', severity: 'high', cis: '5.4', title: 'Dangerous capability added',
    remediation: 'remove the --cap-add; a gateway policy can refuse capabilities for API clients' },
  { id: 'DW-CTR-SECCOMP-001', category: 'container', severity: 'high', cis: '5.22', title: 'Seccomp unconfined',
    remediation: 'remove --security-opt seccomp=unconfined' },
  { id: 'DW-CTR-APPARMOR-001', category: 'container', severity: 'medium', cis: '5.2', title: 'AppArmor unconfined',
    remediation: 'remove --security-opt apparmor=unconfined' },
  { id: 'DW-CTR-SYSTEMPATHS-001', category: 'container', severity: 'medium', title: 'Kernel paths under /proc and /sys not masked (systempaths=unconfined)',
    remediation: 'remove --security-opt systempaths=unconfined' },
  { id: 'DW-CTR-HOSTNS-NET-001', category: 'container', severity: 'high', cis: '5.10', title: "Host's network namespace shared",
    remediation: 'use a container network instead of --network host' },
  { id: 'DW-CTR-HOSTNS-PID-001', category: 'container', severity: 'high', cis: '5.16', title: "Host's process namespace shared",
    remediation: 'remove --pid host' },
  { id: 'DW-CTR-HOSTNS-IPC-001', category: 'container', severity: 'medium', cis: '5.17', title: "Host's IPC namespace shared",
    remediation: 'remove --ipc host' },
  { id: 'DW-CTR-HOSTNS-UTS-001', category: 'container', severity: 'low', cis: '5.21', title: "Host's UTS namespace shared",
    remediation: 'remove --uts host' },
  { id: 'DW-CTR-HOSTNS-USER-001', category: 'container', severity: 'medium', cis: '5.31', title: "Host's user namespace shared (userns-remap bypassed)",
    remediation: 'remove --userns host' },
  { id: 'DW-CTR-DEVICE-001', category: 'container', severity: 'medium', cis: '5.18', title: 'Host device exposed',
    remediation: 'remove the --device unless the container needs it' },
  { id: 'DW-CTR-ROOT-001', category: 'container', severity: 'medium', cis: '4.1', title: 'Runs as root',
    remediation: 'set a non-root USER in the image or --user; a gateway policy can enforce a non-root user' },
  { id: 'DW-CTR-NNP-001', category: 'container', severity: 'low', cis: '5.26', title: 'May gain privileges (no no-new-privileges)',
    remediation: 'add --security-opt no-new-privileges, or set it daemon-wide: `dockward daemon apply --profile hardened`' },
  { id: 'DW-CTR-ROFS-001', category: 'container', severity: 'low', cis: '5.13', title: 'Writable root filesystem',
    remediation: 'run with --read-only and tmpfs/volumes where it writes' },
  { id: 'DW-CTR-MEMORY-001', category: 'container', severity: 'low', cis: '5.11', title: 'No memory limit',
    remediation: 'set --memory' },
  { id: 'DW-CTR-PIDS-001', category: 'container', severity: 'low', cis: '5.29', title: 'No PIDs limit',
    remediation: 'set --pids-limit' },
  { id: 'DW-CTR-PORT-001', category: 'container', severity: 'medium', cis: '5.14', title: 'Port published on every host address',
    remediation: 'publish on one address: -p 127.0.0.1:PORT:PORT (or the interface that must serve it)' },
  { id: 'DW-CTR-ENV-001', category: 'container', severity: 'medium', cis: '4.10', title: 'Secret-looking environment variable',
    remediation: 'pass secrets as files (docker secrets, a read-only mount), not environment variables: `docker inspect` shows them to anyone with API access' },
  { id: 'DW-IMG-ROOT-001', category: 'container', severity: 'low', cis: '4.1', title: 'Image runs as root by default',
    remediation: 'add a USER instruction to the Dockerfile; containers then run as that user unless they ask for another' },
  // --- swarm and networks
  { id: 'DW-NET-OVERLAY-001', category: 'network', severity: 'medium', cis: '7.3', title: 'Overlay network without encryption',
    remediation: 'recreate it with `docker network create --opt encrypted --driver overlay …`' },
  { id: 'DW-SWARM-AUTOLOCK-001', category: 'swarm', severity: 'medium', cis: '7.6', title: 'Swarm managers not auto-locked',
    remediation: '`docker swarm update --autolock=true` and keep the unlock key offline' },
  { id: 'DW-SWARM-CERT-001', category: 'swarm', severity: 'low', cis: '7.8', title: 'Swarm node certificates rotated rarely',
    remediation: '`docker swarm update --cert-expiry 720h` (or shorter)' },
  { id: 'DW-SWARM-NODECERT-001', category: 'swarm', severity: 'high', title: 'Swarm node certificate expired or expiring',
    remediation: '`docker swarm ca --rotate`, or check that the node can reach a manager to renew it' },
];

const CHECK_BY_ID: ReadonlyMap<string, Check> = new Map(CHECKS.map((c) => [c.id, c]));

export function allChecks(): Check[] {
  return CHECKS;
}

export function checkOf(id: string): Check {
  const c = CHECK_BY_ID.get(id);
  if (!c) throw new Error(`no audit check ${id}`);
  return c;
}

/** The checks that read the Docker host itself, skipped (with the reason) for a remote daemon. */
export const HOST_ONLY = CHECKS.filter((c) => c.category === 'files' || c.category === 'tls').map((c) => c.id).concat(
  'DW-DAEMON-NNP-001', 'DW-DAEMON-PROXY-001', 'DW-DAEMON-CONFIG-001', 'DW-DAEMON-HOSTS-001', 'DW-DAEMON-DRIFT-001', 'DW-SWARM-NODECERT-001',
);
