import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runProcess, type ProcessResult } from './process.js';

/**
 * That a TLS server (dockerd) refused a client's certificate, told from what the client saw.
 *
 * Under TLS 1.3 the server checks the client certificate after the client has finished its
 * side of the handshake, so the client's first request can already be on its way when the
 * server sends its alert and closes: the reset that request causes can arrive first and
 * swallow the alert ("connection reset by peer" instead of "bad certificate"). When that race
 * is what the client saw, the refusal is proven again under TLS 1.2, where the server checks
 * the certificate inside the handshake and its alert cannot be lost. A connection that
 * succeeded, or failed for any other reason, still fails the assertion.
 */
/**
 * The alerts a Go server (dockerd) refuses a client certificate with, as the docker CLI prints
 * them. Which one depends on the Go version and on whether the CLI sent its certificate at all
 * (Go's client leaves out one the server's CertificateRequest does not accept; the server then
 * says "certificate required" under TLS 1.3).
 */
export const CERTIFICATE_ALERT = /remote error: tls: (bad certificate|unknown certificate authority|expired certificate|unsupported certificate|certificate required)/;

export async function assertCertificateRefused(result: ProcessResult, server: { port: number; host?: string; bundle: string }): Promise<void> {
  assert.notEqual(result.code, 0, `the server accepted the connection:\n${result.stdout}`);
  if (CERTIFICATE_ALERT.test(result.stderr)) return;
  assert.match(result.stderr, /connection reset by peer|EOF/, `neither a certificate alert nor the TLS 1.3 reset:\n${result.stderr}`);
  const file = (name: string) => (existsSync(join(server.bundle, name)) ? join(server.bundle, name) : undefined);
  const cert = file('cert.pem');
  const key = file('key.pem');
  const curl = await runProcess(
    'curl',
    ['-sSv', '--max-time', '10', '--tls-max', '1.2', '--cacert', join(server.bundle, 'ca.pem'), ...(cert && key ? ['--cert', cert, '--key', key] : []), `https://${server.host ?? '127.0.0.1'}:${server.port}/_ping`],
    { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
  );
  // The handshake failed because of an alert the server sent, not one curl sent: curl's 35, or
  // its 60 when the alert is "certificate expired" (Go 1.21+ sends it), which curl files under
  // verification.
  assert.ok(curl.code === 35 || curl.code === 60, `under TLS 1.2 the server did not refuse the handshake:\n${curl.stdout}${curl.stderr}`);
  assert.match(curl.stderr, /\(IN\), TLS alert, [a-z ]+/, curl.stderr);
}
