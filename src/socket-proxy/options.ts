/**
 * `dockward socket-proxy`: the gateway as a drop-in for docker-socket-proxy — plain HTTP, one
 * fixed identity whose policy comes from the environment (env.ts), bodies checked, every
 * request audited, and no idle timeout on answers (quiet `events`, `logs -f`).
 */
import { existsSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { parsePolicy } from '../policy/index.js';
import { parseListenAddress } from '../gateway/config.js';
import type { GatewayOptions } from '../gateway/server.js';
import { LOG_LEVELS, readSocketProxyEnv, socketProxyPolicyYaml, SOCKET_PROXY_IDENTITY } from './env.js';

export interface SocketProxyFlags {
  listen?: string;
  dockerSocket?: string;
  auditLog?: string;
}

/** Docker and Podman leave these in every container's root. */
export function inContainer(): boolean {
  return existsSync('/.dockerenv') || existsSync('/run/.containerenv');
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || (ipaddr.isValid(host) && ipaddr.process(host).range() === 'loopback');
}

export interface SocketProxySetup {
  options: GatewayOptions;
  /** What the user should know before it serves (a listener reachable from other hosts). */
  warnings: string[];
}

export function socketProxyOptions(flags: SocketProxyFlags, env: NodeJS.ProcessEnv, containerized = inContainer()): SocketProxySetup {
  const cfg = readSocketProxyEnv(env);
  // docker-socket-proxy binds [::]:2375 (v4v6), or :2375 with DISABLE_IPV6; outside a container
  // nothing but this host should reach an unauthenticated Docker API unless asked for.
  const listen = flags.listen ? parseListenAddress(flags.listen) : { host: containerized ? (cfg.disableIpv6 ? '0.0.0.0' : '::') : '127.0.0.1', port: 2375 };
  const warnings: string[] = [];
  if (!containerized && !isLoopbackHost(listen.host)) {
    warnings.push(
      `socket-proxy listens on ${listen.host}:${listen.port} without TLS or authentication: anyone who reaches it has what the policy allows (use a loopback address, or \`dockward gateway\` with mTLS)`,
    );
  }
  const quiet = LOG_LEVELS.indexOf(cfg.logLevel) < LOG_LEVELS.indexOf('warning');
  return {
    options: {
      upstreamSocket: flags.dockerSocket ?? cfg.socketPath,
      listeners: [{ kind: 'plain', host: listen.host, port: listen.port, identity: SOCKET_PROXY_IDENTITY }],
      policy: parsePolicy(socketProxyPolicyYaml(cfg), 'the docker-socket-proxy environment'),
      // Like HAProxy's `log stdout`: the container's log is the audit trail.
      auditLog: flags.auditLog ?? '-',
      log: (line) => {
        if (!quiet) process.stderr.write(`dockward socket-proxy: ${line}\n`);
      },
    },
    warnings,
  };
}
