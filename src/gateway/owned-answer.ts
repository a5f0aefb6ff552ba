/**
 * A tenant's view of a 2xx answer (the ownership stage's plan): a JSON document rewritten whole
 * (names translated, lists filtered), or the events stream filtered line by line.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { eventStream, type Answer } from '../ownership/index.js';
import type { GatewayContext } from './context.js';
import { replyError } from './wire.js';

/** Streams keep streaming; nothing is held longer than a line. */
export function ownedAnswer(ctx: GatewayContext, owner: string, answer: Answer, upRes: IncomingMessage, res: ServerResponse, headers: string[], counted: (n: number) => void): void {
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    if (name !== 'content-length' && name !== 'transfer-encoding') kept.push(headers[i]!, headers[i + 1]!);
  }
  upRes.on('error', () => res.destroy());
  if (upRes.headers['content-encoding'] !== undefined) {
    upRes.resume();
    return replyError(res, 502, 'dockward: the daemon compressed an answer the gateway must filter', true);
  }
  if (answer.kind === 'events') {
    res.writeHead(upRes.statusCode!, upRes.statusMessage, kept);
    res.flushHeaders();
    const stream = eventStream(ctx.ownership, owner, (b) => res.write(b));
    upRes.on('data', (c: Buffer) => {
      counted(c.length);
      stream.push(c);
    });
    upRes.once('end', () => stream.end(() => res.end()));
    return;
  }
  const chunks: Buffer[] = [];
  upRes.on('data', (c: Buffer) => {
    counted(c.length);
    chunks.push(c);
  });
  upRes.once('end', () => {
    const raw = Buffer.concat(chunks);
    let body = raw;
    if (raw.length) {
      try {
        body = Buffer.from(JSON.stringify(answer.rewrite(JSON.parse(raw.toString('utf8')))));
      } catch {
        return replyError(res, 502, 'dockward: the daemon answered something other than the JSON the gateway must filter', true);
      }
    }
    res.writeHead(upRes.statusCode!, upRes.statusMessage, [...kept, 'Content-Length', String(body.length)]);
    res.end(body);
  });
}
