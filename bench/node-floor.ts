/**
 * The Node floor: the least a Node mTLS proxy in front of dockerd's socket does, with nothing of
 * dockward's (no routes, no policy, no audit, no limits). It terminates the same mTLS with the
 * gateway's TLS options and CRL, reads the peer certificate once per connection as any
 * identity-aware proxy must, and relays with Node's `http` (keep-alive agent, piped bodies,
 * upgrades spliced). Measured beside the gateway, it splits the gateway's cost into what Node's
 * HTTP and TLS cost anyway and what dockward adds. Run as its own process:
 * `node --import tsx bench/node-floor.ts PORT SERVER_DIR CRL SOCKET`.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { TLS_SERVER_OPTIONS } from '../src/gateway/tls-context.js';
import { rawResponseHead } from '../src/gateway/wire.js';

const [port, serverDir, crl, socketPath] = process.argv.slice(2) as [string, string, string, string];
const agent = new http.Agent({ keepAlive: true });

const server = https.createServer(
  {
    ...TLS_SERVER_OPTIONS,
    rejectUnauthorized: true,
    ca: readFileSync(join(serverDir, 'ca.pem')),
    cert: readFileSync(join(serverDir, 'server-cert.pem')),
    key: readFileSync(join(serverDir, 'server-key.pem')),
    crl: readFileSync(crl),
    noDelay: true,
  },
  (req, res) => {
    const up = http.request({ agent, socketPath, method: req.method, path: req.url, headers: req.rawHeaders as unknown as http.OutgoingHttpHeaders }, (upRes) => {
      res.writeHead(upRes.statusCode!, upRes.statusMessage, upRes.rawHeaders);
      // A stream's head (wait, events) is what its client waits for: Node would hold it until the first byte of the body.
      res.flushHeaders();
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    // A client gone mid-answer (logs -f) ends the upstream exchange; a finished one keeps its socket for the next.
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  },
);
server.on('secureConnection', (socket: TLSSocket) => {
  socket.getPeerCertificate();
  socket.allowHalfOpen = true;
});
/** Node hands an upgrade request over unparsed: its body (exec start's JSON) is read by its length. */
async function upgradeBody(socket: Duplex, head: Buffer, length: number): Promise<{ body: Buffer; rest: Buffer }> {
  let have = head;
  while (have.length < length) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    have = Buffer.concat([have, chunk]);
  }
  return { body: have.subarray(0, length), rest: have.subarray(length) };
}

server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
  socket.on('error', () => socket.destroy());
  void upgradeBody(socket, head, Number(req.headers['content-length'] ?? 0)).then(({ body, rest }) => {
    socket.pause();
    const up = http.request({ agent: false, socketPath, method: req.method, path: req.url, headers: req.rawHeaders as unknown as http.OutgoingHttpHeaders });
    up.on('upgrade', (upRes: http.IncomingMessage, upSocket: Duplex, upHead: Buffer) => {
      socket.write(rawResponseHead(upRes.statusCode!, upRes.statusMessage ?? '', upRes.rawHeaders));
      if (upHead.length) socket.write(upHead);
      if (rest.length) upSocket.write(rest);
      socket.pipe(upSocket);
      upSocket.pipe(socket);
      upSocket.on('error', () => socket.destroy());
      socket.on('close', () => upSocket.destroy());
      upSocket.on('close', () => socket.destroy());
    });
    up.on('response', (upRes) => {
      socket.end(rawResponseHead(upRes.statusCode!, upRes.statusMessage ?? '', ['Content-Length', '0', 'Connection', 'close']));
      upRes.resume();
    });
    up.on('error', () => socket.destroy());
    up.end(body);
  });
});
server.listen(Number(port), '127.0.0.1', () => process.stderr.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
