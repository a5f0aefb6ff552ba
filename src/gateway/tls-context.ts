/**
 * TLS material of an mTLS listener: load, validate, and reload on SIGHUP or when the files change.
 * A reload that fails (a half-written file, a key that does not match, an unreadable CRL) keeps
 * the last good context. Open connections keep going across a reload, except those of a
 * certificate the new CRL revokes (the listener ends them); new handshakes use the new context.
 */
import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { dirname, basename } from 'node:path';
import tls, { type SecureContextOptions } from 'node:tls';
import { constants } from 'node:crypto';
import { DockwardError } from '../util/errors.js';
import { pkiLayout } from '../pki/index.js';
import { x509 } from '../pki/x509.js';
import { crlProblem } from '../pki/crl.js';
import { allInOrder } from '../util/in-order.js';

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
  /** PEM `X509 CRL`; when given it is enforced for every client (OpenSSL CRL_CHECK|CRL_CHECK_ALL). */
  crl?: string;
}

/** Files of a `dockward pki` directory; its CRL always exists (pki init writes an empty one). */
export function tlsFilesFromPki(dir: string): TlsFiles {
  const l = pkiLayout(dir);
  return { ca: l.caCert, cert: `${l.serverDir}/server-cert.pem`, key: `${l.serverDir}/server-key.pem`, crl: l.crl };
}


/**
 * Settings every mTLS listener gets; only the material changes on reload. OpenSSL verifies every
 * client certificate (chain, validity, purpose, CRL), but the verdict is the listener's
 * (judgeClient): refused inside the handshake, a client learns nothing and the audit log gets
 * no address, no certificate and no reason.
 * No session is resumed (no tickets, and Node keeps no session cache): a resumed session skips
 * the certificate's verification, so a certificate that expired or was revoked since would
 * still get in, and the docker CLI never resumes anyway (each command is a new process).
 * Building the tickets OpenSSL sends after every TLS 1.3 handshake was ~10% of a handshake's CPU.
 */
export const TLS_SERVER_OPTIONS = {
  requestCert: true,
  rejectUnauthorized: false,
  minVersion: 'TLSv1.2',
  ALPNProtocols: ['http/1.1'],
  secureOptions: constants.SSL_OP_NO_TICKET,
} as const satisfies tls.TlsOptions;

async function readPart(what: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DockwardError(
      `cannot read the ${what} ${path}: ${code ?? (e as Error).message}`,
      code === 'ENOENT' ? 'create the PKI with dockward pki init and dockward pki server (or run dockward up), or pass --pki DIR' : undefined,
    );
  }
}

/**
 * Reads and proves the material: createSecureContext fails on a key/cert mismatch or a bad CRL,
 * crlProblem on a CRL of another CA. A reload (`reloading`) also refuses a CRL that is not valid
 * now, which would replace a good one only to refuse every client; at start there is no good one
 * to keep, and an expired CRL is refused per client with the reason (expiredCrl).
 */
export async function loadTlsMaterial(files: TlsFiles, reloading = false): Promise<SecureContextOptions> {
  const [ca, cert, key, crl] = await allInOrder([
    readPart('CA certificate', files.ca),
    readPart('server certificate', files.cert),
    readPart('server key', files.key),
    files.crl ? readPart('CRL', files.crl) : Promise.resolve(undefined),
  ]);
  if (crl && !crl.includes('-----BEGIN X509 CRL-----')) {
    throw new DockwardError(`the CRL ${files.crl} is not a PEM "X509 CRL"`, 'regenerate it with dockward pki crl');
  }
  const problem = crl && (await crlProblem(crl.toString(), ca.toString(), { current: reloading }));
  if (problem) throw new DockwardError(`the CRL ${files.crl} is refused: ${problem}`, 'regenerate it with dockward pki crl');
  const options: SecureContextOptions = { ca, cert, key, ...(crl ? { crl } : {}) };
  try {
    tls.createSecureContext(options);
  } catch (e) {
    throw new DockwardError(`the TLS files do not work together (${files.cert}, ${files.key}, ${files.ca}): ${(e as Error).message}`);
  }
  return options;
}

/** Certificate serials as hex without leading zeros, so OpenSSL's and the CRL's spelling compare. */
export function normalSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

/**
 * What the listener needs of its CRL besides handing it to OpenSSL: when it stops being valid
 * (from then on OpenSSL refuses every client, "CRL has expired"), and which serials it revokes
 * (OpenSSL checks only new handshakes; connections opened before a revocation are ours to end).
 */
function crlFacts(material: SecureContextOptions): { expiresAt?: Date; revoked: ReadonlyMap<string, Revocation> } {
  if (!material.crl) return { revoked: new Map() };
  const crl = new x509.X509Crl(material.crl.toString());
  return {
    expiresAt: crl.nextUpdate,
    revoked: new Map(
      crl.entries.map((e) => [normalSerial(e.serialNumber), { at: e.revocationDate, ...(e.reason === undefined ? {} : { reason: x509.X509CrlReason[e.reason] }) }]),
    ),
  };
}

/** When and why a certificate was revoked (`pki revoke` leaves the reason out for "unspecified"). */
export interface Revocation {
  at: Date;
  reason?: string;
}

export interface Reloadable {
  setSecureContext(options: SecureContextOptions): void;
}

/** How long before the CRL's nextUpdate the gateway starts warning. */
export const CRL_WARNING_DAYS = 7;
const CRL_CHECK_INTERVAL_MS = 6 * 3_600_000;

/** Keeps a server's context in step with its files (fs.watch on their directories, debounced). */
export class TlsReloader {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private crlCheck: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private crlExpiresAt: Date | undefined;
  private expiryReported = false;
  private revoked: ReadonlyMap<string, Revocation>;
  /** Called after a reload is applied, so connections of newly revoked certificates can be ended. */
  afterReload?: () => void;

  /** `loaded` is the material the server was created with. */
  constructor(
    private readonly name: string,
    private readonly files: TlsFiles,
    private readonly server: Reloadable,
    private readonly log: (line: string) => void,
    loaded: SecureContextOptions,
  ) {
    ({ expiresAt: this.crlExpiresAt, revoked: this.revoked } = crlFacts(loaded));
    this.reportCrlValidity();
  }

  /** The CRL's entry for this serial (as in Identity.serial), if it lists it. */
  revocation(serial: string): Revocation | undefined {
    return this.revoked.get(normalSerial(serial));
  }

  /**
   * Why every client is refused when the CRL in use has expired (logged once per CRL), in words
   * for the client and the audit log: OpenSSL's verdict is a bare CRL_HAS_EXPIRED.
   */
  expiredCrl(now = Date.now()): string | undefined {
    if (!this.crlExpiresAt || this.crlExpiresAt.getTime() > now) return undefined;
    const why = `the gateway's CRL expired on ${this.crlExpiresAt.toISOString()}: every client certificate is refused until it is refreshed (dockward pki crl)`;
    if (!this.expiryReported) {
      this.expiryReported = true;
      this.log(`${this.name}: ${why.replace("the gateway's CRL", `the CRL ${this.files.crl}`)}`);
    }
    return why;
  }

  /**
   * Says so when the CRL in use has expired, or will within CRL_WARNING_DAYS: from its nextUpdate
   * on, OpenSSL refuses every client, so the operator must hear about it before, not after.
   */
  private reportCrlValidity(now = Date.now()): void {
    if (this.expiredCrl(now) || !this.crlExpiresAt) return;
    const daysLeft = (this.crlExpiresAt.getTime() - now) / 86_400_000;
    if (daysLeft <= CRL_WARNING_DAYS) {
      this.log(
        `${this.name}: warning: the CRL ${this.files.crl} expires on ${this.crlExpiresAt.toISOString()} (in ${daysLeft.toFixed(1)} days); ` +
          'from then on every client certificate is refused: refresh it with dockward pki crl (run it from cron)',
      );
    }
  }

  watch(): void {
    // A gateway can run for weeks without any PKI change: the CRL's validity is checked again
    // every few hours, not only at start and reload.
    this.crlCheck = setInterval(() => this.reportCrlValidity(), CRL_CHECK_INTERVAL_MS).unref();
    const names = new Map<string, Set<string>>();
    for (const f of Object.values(this.files)) {
      if (!f) continue;
      const set = names.get(dirname(f)) ?? new Set<string>();
      set.add(basename(f));
      names.set(dirname(f), set);
    }
    for (const [dir, files] of names) {
      try {
        const w = watch(dir, { persistent: false }, (_event, file) => {
          if (file === null || files.has(file.toString())) this.schedule();
        });
        w.on('error', (e) => this.log(`${this.name}: stopped watching ${dir}: ${e.message} (SIGHUP still reloads)`));
        this.watchers.push(w);
      } catch (e) {
        this.log(`${this.name}: cannot watch ${dir}: ${(e as Error).message} (SIGHUP still reloads)`);
      }
    }
  }

  // Writers replace several files in a row (cert, then key; CRL then inventory): wait for quiet.
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reload(), 250);
    this.timer.unref();
  }

  /** Resolves once the reload is applied or refused; never rejects. */
  reload(): Promise<void> {
    this.running = this.running.then(async () => {
      try {
        const material = await loadTlsMaterial(this.files, true);
        // Node resets every setting the new options leave out (secureOptions among them).
        this.server.setSecureContext({ ...TLS_SERVER_OPTIONS, ...material });
        ({ expiresAt: this.crlExpiresAt, revoked: this.revoked } = crlFacts(material));
        this.expiryReported = false;
        this.log(`${this.name}: TLS certificates, CA and CRL reloaded`);
        this.reportCrlValidity();
        this.afterReload?.();
      } catch (e) {
        this.log(`${this.name}: reload failed, keeping the previous TLS state: ${(e as Error).message}`);
      }
    });
    return this.running;
  }

  close(): void {
    clearTimeout(this.timer);
    clearInterval(this.crlCheck);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
