import type { Command } from 'commander';
import { usesSocketProxyEnv } from '../socket-proxy/env.js';
import { runSocketProxy } from './socket-proxy.js';
import { runUp } from './up.js';

export function registerContainer(program: Command): void {
  program
    .command('container')
    .description("the container image's default command: socket-proxy when any docker-socket-proxy variable is set (CONTAINERS, POST, …, SOCKET_PATH), else up --audit-log -")
    .action(() => (usesSocketProxyEnv(process.env) ? runSocketProxy({}) : runUp({ listen: '127.0.0.1:2376', auditLog: '-' })));
}
