import type { Command } from 'commander';
import { startGateway } from '../gateway/server.js';
import { socketProxyOptions, type SocketProxyFlags } from '../socket-proxy/options.js';
import { gatewayListenerLines, serveUntilSignal } from './gateway.js';

export function registerSocketProxy(program: Command): void {
  program
    .command('socket-proxy')
    .description("serve docker-socket-proxy's sections (CONTAINERS=1, POST=0, … from the environment) over plain HTTP, with request bodies checked and every request audited")
    .option('--listen <addr>', '[tcp://]HOST:PORT (default: [::]:2375 in a container, 0.0.0.0:2375 with DISABLE_IPV6; 127.0.0.1:2375 on a host)')
    .option('--docker-socket <path>', "the daemon's socket (default: $SOCKET_PATH, else /var/run/docker.sock)")
    .option('--audit-log <file>', 'append the audit log to FILE (default: - for stdout, as docker-socket-proxy logs)')
    .addHelpText(
      'after',
      [
        '',
        "Reads docker-socket-proxy's variables with its semantics: a switch is on only when its value starts with a",
        'non-zero integer (POST=true is off); EVENTS, PING and VERSION default to 1, everything else to 0.',
        '`dockward policy from-env` prints the policy this serves.',
        '',
        'Examples:',
        '  CONTAINERS=1 EVENTS=1 dockward socket-proxy --listen 127.0.0.1:2375',
        '  docker run -e CONTAINERS=1 -v /var/run/docker.sock:/var/run/docker.sock dockward socket-proxy',
        '',
      ].join('\n'),
    )
    .action(runSocketProxy);
}

/** `dockward socket-proxy` until a signal stops it (also the container image's default with its variables set). */
export async function runSocketProxy(flags: SocketProxyFlags): Promise<void> {
  const setup = socketProxyOptions(flags, process.env);
  for (const w of setup.warnings) process.stderr.write(`dockward socket-proxy: warning: ${w}\n`);
  const gw = await startGateway(setup.options);
  for (const line of gatewayListenerLines(gw)) process.stderr.write(`${line}\n`);
  await serveUntilSignal(gw);
}
