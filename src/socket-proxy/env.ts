/**
 * Tecnativa's docker-socket-proxy configuration (its environment variables), read with the exact
 * semantics of its haproxy.cfg and Dockerfile (v0.4, HAProxy 3.2), and turned into a dockward
 * policy that allows the same routes.
 *
 * What HAProxy does with them:
 *   http-request deny unless METH_GET || { env(POST) -m bool }     # METH_GET is GET or HEAD
 *   http-request allow if { path,url_dec -m reg -i ^(/v[\d\.]+)?/containers/[a-zA-Z0-9_.-]+/((stop)|(restart)|(kill)) } { env(ALLOW_RESTARTS) -m bool }
 *   … ALLOW_START (/start), ALLOW_STOP (/stop), then one prefix per section: ^(/v[\d\.]+)?/containers …
 *   http-request deny
 * So every section switch is a path *prefix*, any method passes once POST is on, and the ALLOW_*
 * switches only matter with POST on (they are POST routes). `-m bool` on a string is true when it
 * starts with a non-zero integer: `1`, `2`, `1yes` are on; `true`, `yes`, `on`, `0` and unset are
 * off. Only DISABLE_IPV6 is read by the entrypoint instead, as 1, true or yes in any case.
 */
import { ROUTES, type Route } from '../api/routes.js';
import { UsageError } from '../util/errors.js';

/** Section switch → the path prefix it opens (haproxy.cfg, in its order). */
export const SECTIONS: readonly (readonly [string, string])[] = [
  ['AUTH', '/auth'],
  ['BUILD', '/build'],
  ['COMMIT', '/commit'],
  ['CONFIGS', '/configs'],
  ['CONTAINERS', '/containers'],
  ['DISTRIBUTION', '/distribution'],
  ['EVENTS', '/events'],
  ['EXEC', '/exec'],
  ['GRPC', '/grpc'],
  ['IMAGES', '/images'],
  ['INFO', '/info'],
  ['NETWORKS', '/networks'],
  ['NODES', '/nodes'],
  ['PING', '/_ping'],
  ['PLUGINS', '/plugins'],
  ['SECRETS', '/secrets'],
  ['SERVICES', '/services'],
  ['SESSION', '/session'],
  ['SWARM', '/swarm'],
  ['SYSTEM', '/system'],
  ['TASKS', '/tasks'],
  ['VERSION', '/version'],
  ['VOLUMES', '/volumes'],
];

/** The container-action switches: they open these POST routes (with POST on). */
const ACTIONS: readonly (readonly [string, RegExp])[] = [
  ['ALLOW_RESTARTS', /^\/containers\/\{id\}\/(stop|restart|kill)$/],
  ['ALLOW_START', /^\/containers\/\{id\}\/start$/],
  ['ALLOW_STOP', /^\/containers\/\{id\}\/stop$/],
];

/** The image's ENV defaults (its Dockerfile): only EVENTS, PING and VERSION are on. */
const DEFAULT_ON = new Set(['EVENTS', 'PING', 'VERSION']);

export const LOG_LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface SocketProxyConfig {
  /** Every switch (sections, POST, ALLOW_*) as HAProxy reads it. */
  switches: Record<string, boolean>;
  socketPath: string;
  logLevel: LogLevel;
  disableIpv6: boolean;
}

/** HAProxy's `-m bool` on an environment string: a leading integer, non-zero. */
export function haproxyBool(value: string | undefined): boolean {
  const m = value === undefined ? null : /^[+-]?\d+/.exec(value);
  return m !== null && Number(m[0]) !== 0;
}

export const SWITCHES = [...SECTIONS.map(([name]) => name), 'POST', ...ACTIONS.map(([name]) => name)];

export function readSocketProxyEnv(env: NodeJS.ProcessEnv): SocketProxyConfig {
  const switches: Record<string, boolean> = {};
  for (const name of SWITCHES) switches[name] = haproxyBool(env[name] ?? (DEFAULT_ON.has(name) ? '1' : '0'));
  const socketPath = env.SOCKET_PATH || '/var/run/docker.sock';
  // HAProxy would also take host:port here; the gateway talks to a Unix socket only.
  if (!socketPath.startsWith('/')) throw new UsageError(`SOCKET_PATH="${socketPath}" is not an absolute socket path`, 'set it to the Docker socket, e.g. /var/run/docker.sock');
  const logLevel = (env.LOG_LEVEL || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`LOG_LEVEL="${env.LOG_LEVEL}" is not a level`, `use one of ${LOG_LEVELS.join(', ')}`);
  return { switches, socketPath, logLevel, disableIpv6: ['1', 'true', 'yes'].includes((env.DISABLE_IPV6 ?? '').toLowerCase()) };
}

/** Which switch opens a route, or undefined when HAProxy refuses it. */
export function switchFor(cfg: SocketProxyConfig, route: Route): string | undefined {
  if (route.method !== 'GET' && route.method !== 'HEAD' && !cfg.switches.POST) return undefined;
  // Same order as haproxy.cfg: the first allow that matches wins.
  for (const [name, re] of ACTIONS) if (cfg.switches[name] && route.method === 'POST' && re.test(route.template)) return name;
  for (const [name, prefix] of SECTIONS) if (cfg.switches[name] && route.template.toLowerCase().startsWith(prefix)) return name;
  return undefined;
}

export const SOCKET_PROXY_IDENTITY = 'socket-proxy';

/**
 * The policy that allows what docker-socket-proxy would, as YAML with a comment per switch. Routes
 * are listed one by one (the route table's templates), so the file says exactly what is open.
 */
export function socketProxyPolicyYaml(cfg: SocketProxyConfig): string {
  const bySwitch = new Map<string, string[]>();
  const closed = new Set<string>();
  for (const route of ROUTES) {
    const s = switchFor(cfg, route);
    if (s) {
      const names = bySwitch.get(s) ?? [];
      if (!names.includes(route.name)) names.push(route.name);
      bySwitch.set(s, names);
    } else {
      closed.add(route.name);
    }
  }
  const on = SWITCHES.filter((s) => cfg.switches[s]);
  const lines = [
    '# dockward policy equivalent to this docker-socket-proxy environment:',
    `#   on:  ${on.join(' ') || '(nothing)'}`,
    `#   off: ${SWITCHES.filter((s) => !cfg.switches[s]).join(' ')}`,
    '# Unlike docker-socket-proxy, request bodies are checked: with the role below a container',
    '# create is refused when privileged, with host binds, added capabilities, host namespaces,',
    '# devices, … (see the README, "What is inside a request"); add a `containers:` block to grant one.',
    'version: 1',
    'identities:',
    `  - name: ${SOCKET_PROXY_IDENTITY}`,
    `    match: { listener: ${SOCKET_PROXY_IDENTITY} }`,
    `    roles: [${SOCKET_PROXY_IDENTITY}]`,
    'roles:',
    `  ${SOCKET_PROXY_IDENTITY}:`,
  ];
  if (bySwitch.size) {
    lines.push('    allow:');
    for (const s of SWITCHES) {
      const names = bySwitch.get(s);
      if (!names) continue;
      lines.push(`      # ${s}=1`);
      for (const n of names) lines.push(`      - ${JSON.stringify(n)}`);
    }
  } else {
    lines.push('    allow: []');
  }
  // dockward lets every identity with a role ping and read the version; docker-socket-proxy does not.
  const implicit = ['HEAD /_ping', 'GET /_ping', 'GET /version'].filter((n) => closed.has(n));
  if (implicit.length) lines.push(`    deny: [${implicit.map((n) => JSON.stringify(n)).join(', ')}]   # ${[...new Set(implicit.map((n) => (n.endsWith('version') ? 'VERSION' : 'PING')))].join(', ')} off`);
  if (cfg.switches.SESSION || cfg.switches.GRPC) lines.push('    build: { buildkit: true }   # SESSION or GRPC on: BuildKit\'s own API, opaque to any proxy');
  return lines.join('\n') + '\n';
}

/** Whether a container was started the docker-socket-proxy way (any switch or SOCKET_PATH set). */
export function usesSocketProxyEnv(env: NodeJS.ProcessEnv): boolean {
  return [...SWITCHES, 'SOCKET_PATH'].some((name) => env[name] !== undefined);
}
