import { Command, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import Table from 'cli-table3';
import {
  initCa,
  issueServer,
  issueClient,
  revoke,
  refreshCrl,
  renew,
  listCertificates,
  defaultClientDockerHost,
  resolvePkiDir,
  pkiLayout,
  encryptCaKey,
  checkEncryptable,
  KEY_TYPES,
  REVOCATION_REASONS,
  parseKeyType,
  type IssueResult,
} from '../pki/index.js';
import { isEncryptedKeyPem } from '../pki/key-encryption.js';
import { resolvePassphrase, NEW_PASSPHRASE_ENV, PASSPHRASE_ENV } from './passphrase.js';
import { verifyCertificate, formatVerifyReport } from '../pki/verify.js';
import { checkDockerContext, writeDockerContext } from '../client/docker-context.js';
import { writeClientBundle } from '../adopt/client-bundle.js';
import { collect, durationOption, intOption, printJson, withJson, withPkiDir } from './options.js';
import { DockwardError, UsageError } from '../util/errors.js';
import { allInOrder } from '../util/in-order.js';

interface Common {
  pki?: string;
  json?: boolean;
  passphraseFile?: string;
}

const keyOption = () => new Option('--key <type>', 'key type').choices([...KEY_TYPES]).argParser(parseKeyType);
const daysOption = () => new Option('--days <n>', 'validity in days').argParser(intOption('--days', 1, 36500));
const passphraseOption = () =>
  new Option('--passphrase-file <file>', 'read the CA passphrase from FILE (else $DOCKWARD_CA_PASSPHRASE, else a prompt on a terminal)');

/** Asks for the passphrase only when the CA key is actually encrypted. */
async function caPassphrase(o: Common): Promise<string | undefined> {
  const layout = pkiLayout(resolvePkiDir(o.pki));
  const keyPem = await readFile(layout.caKey, 'utf8').catch(() => '');
  if (!isEncryptedKeyPem(keyPem)) return undefined;
  return resolvePassphrase({ file: o.passphraseFile });
}

function report(o: Common, result: IssueResult | IssueResult[], human: () => string): void {
  if (o.json) printJson(result);
  else process.stdout.write(human() + '\n');
}

function describe(r: IssueResult): string {
  const files = Object.entries(r.files)
    .map(([k, v]) => `  ${k.padEnd(5)} ${v}`)
    .join('\n');
  return `${r.cn}: serial ${r.serial}, valid until ${r.notAfter.toISOString()}\n  sha256 ${r.fingerprint}\n${files}`;
}

export function registerPki(program: Command): void {
  const pki = program.command('pki').description('a CA for Docker hosts and their clients, with Docker-exact output');

  withJson(withPkiDir(pki.command('init')))
    .description('create the CA (key encrypted when a passphrase is available)')
    .addOption(keyOption().default('ecdsa-p256'))
    .addOption(daysOption())
    .option('--cn <name>', 'CA common name')
    .addOption(passphraseOption())
    .option('--force', 'replace an existing CA (every certificate it issued stops being trusted)')
    .action(async (o: Common & { key: ReturnType<typeof parseKeyType>; days?: number; cn?: string; force?: boolean }) => {
      const dir = resolvePkiDir(o.pki);
      const passphrase = await resolvePassphrase({ file: o.passphraseFile, confirm: true });
      const r = await initCa({ dir, keyType: o.key, days: o.days, cn: o.cn, passphrase, force: o.force });
      report(o, r, () => `CA created in ${dir} (key ${r.encrypted ? 'encrypted' : 'NOT encrypted'})\n${describe(r)}`);
    });

  withJson(withPkiDir(pki.command('server')))
    .description('issue the daemon certificate: server-cert.pem, server-key.pem, ca.pem')
    .option('--host <name...>', 'DNS name the daemon is reached by (repeatable, or comma-separated)', collect)
    .option('--ip <address...>', 'IP address the daemon is reached by (repeatable, or comma-separated)', collect)
    .addOption(daysOption())
    .option('--out <dir>', 'output directory (default: PKI/server)')
    .addOption(keyOption())
    .addOption(passphraseOption())
    .option('--force', 'overwrite existing files')
    .action(async (o: Common & { host?: string[]; ip?: string[]; days?: number; out?: string; key?: ReturnType<typeof parseKeyType>; force?: boolean }) => {
      const r = await issueServer({
        dir: resolvePkiDir(o.pki),
        hosts: (o.host ?? []).flat(),
        ips: (o.ip ?? []).flat(),
        days: o.days,
        out: o.out,
        keyType: o.key,
        force: o.force,
        passphrase: await caPassphrase(o),
      });
      report(o, r, () => describe(r));
    });

  withJson(withPkiDir(pki.command('client')))
    .description('issue a client bundle: cert.pem, key.pem, ca.pem and docker.env (CN = NAME)')
    .argument('<name>', 'identity (becomes the certificate CN)')
    .option('--role <role>', 'role recorded in the certificate (OU) for gateway policies')
    .addOption(daysOption())
    .option('--out <dir>', 'output directory (default: PKI/clients/NAME)')
    .addOption(keyOption())
    .option('--context <name>', 'also write a Docker CLI context NAME')
    .option('--docker-host <url>', 'DOCKER_HOST for docker.env and the context (default: the address dockward up last bound, recorded in PKI/gateway-address; else tcp://<server cert name>:2376)')
    .addOption(passphraseOption())
    .option('--force', 'overwrite existing files')
    .action(
      async (
        name: string,
        o: Common & { role?: string; days?: number; out?: string; key?: ReturnType<typeof parseKeyType>; context?: string; dockerHost?: string; force?: boolean },
      ) => {
        const dir = resolvePkiDir(o.pki);
        let dockerHost = o.dockerHost;
        if (o.context) {
          // Everything that could refuse the context is checked before a certificate is issued.
          dockerHost ??= await defaultClientDockerHost(dir);
          if (!dockerHost) throw new DockwardError('no DOCKER_HOST known for the context', 'pass --docker-host tcp://HOST:2376 or issue a server certificate first');
          await checkDockerContext({ name: o.context, host: dockerHost, force: o.force });
        }
        const r = await issueClient({
          dir,
          name,
          role: o.role,
          days: o.days,
          out: o.out,
          keyType: o.key,
          dockerHost,
          force: o.force,
          passphrase: await caPassphrase(o),
        });
        let contextLine = '';
        if (o.context) {
          const [caPem, certPem, keyPem] = await allInOrder([r.files.ca!, r.files.cert!, r.files.key!].map((f) => readFile(f, 'utf8')));
          await writeDockerContext({ name: o.context, host: dockerHost!, caPem: caPem!, certPem: certPem!, keyPem: keyPem!, description: `dockward client ${name}`, force: o.force });
          contextLine = `\n  Docker context "${o.context}" written: docker --context ${o.context} version`;
        }
        report(o, r, () => `${describe(r)}\n  use:   source ${r.files.env}${contextLine}`);
      },
    );

  withJson(withPkiDir(pki.command('bundle')))
    .description('pack a client bundle into one .tar.gz (mode 0600): ca.pem, cert.pem, key.pem (0400), docker.env and a docker context archive')
    .argument('<name>', 'the client identity (issued with `dockward pki client NAME`)')
    .option('--output <file>', 'the archive to write (default: ./NAME.tar.gz)')
    .option('--context <name>', 'name of the docker context in the archive (default: NAME)')
    .option('--docker-host <url>', 'DOCKER_HOST for docker.env and the context (default: as for `pki client`)')
    .option('--force', 'overwrite an existing archive')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  dockward pki bundle ci --output /tmp/ci.tar.gz',
        '  # on the client: tar xzf ci.tar.gz && cd ci && . ./docker.env && docker version',
        '  # or:            dockward connect tcp://HOST:2376 --bundle ci --context docker1',
        '',
      ].join('\n'),
    )
    .action(async (name: string, o: Common & { output?: string; context?: string; dockerHost?: string; force?: boolean }) => {
      const r = await writeClientBundle({ pkiDir: resolvePkiDir(o.pki), name, output: o.output, context: o.context, dockerHost: o.dockerHost, force: o.force });
      if (o.json) return printJson(r);
      process.stdout.write(
        `${r.output}: bundle of "${r.name}" (serial ${r.serial}, valid until ${r.notAfter}) for ${r.dockerHost}\n` +
          `  unpack: tar xzf ${r.output}   (a credential: keep it 0600, delete it once unpacked)\n`,
      );
    });

  withJson(withPkiDir(pki.command('list')))
    .description('every issued certificate, with its status')
    .action(async (o: Common) => {
      const certs = await listCertificates(resolvePkiDir(o.pki));
      if (o.json) return printJson(certs);
      const table = new Table({ head: ['serial', 'kind', 'name', 'role', 'key', 'not after', 'status'], style: { head: [], border: [] } });
      for (const c of certs) table.push([c.serial.slice(0, 16), c.kind, c.cn, c.role ?? '', c.keyType, c.notAfter.slice(0, 16).replace('T', ' '), c.status]);
      process.stdout.write(table.toString() + '\n');
    });

  withJson(withPkiDir(pki.command('revoke')))
    .description('revoke every current certificate of NAME, or the one with SERIAL, and rewrite the CRL')
    .argument('<name-or-serial>')
    .addOption(new Option('--reason <reason>', 'revocation reason').choices([...REVOCATION_REASONS]).default('unspecified'))
    .addOption(passphraseOption())
    .action(async (target: string, o: Common & { reason: string }) => {
      const dir = resolvePkiDir(o.pki);
      const revoked = await revoke({ dir, target, reason: o.reason, passphrase: await caPassphrase(o) });
      if (o.json) return printJson(revoked);
      for (const c of revoked) process.stdout.write(`revoked ${c.kind} ${c.cn} (serial ${c.serial}, ${o.reason})\n`);
      process.stdout.write(
        `CRL updated: ${pkiLayout(dir).crl}\n` +
          'The dockward gateway refuses these certificates once it reloads (SIGHUP or file change). dockerd itself never checks revocation.\n',
      );
    });

  withJson(withPkiDir(pki.command('crl')))
    .description('rewrite the CRL with a fresh 30-day validity')
    .addOption(passphraseOption())
    .action(async (o: Common) => {
      const r = await refreshCrl({ dir: resolvePkiDir(o.pki), passphrase: await caPassphrase(o) });
      if (o.json) return printJson(r);
      process.stdout.write(`CRL #${r.crlNumber} written to ${r.path} (${r.revoked} revoked)\n`);
    });

  withJson(withPkiDir(pki.command('renew')))
    .description('re-issue a certificate (NAME or SERIAL) or all expiring within a duration, in place, with a new key')
    .argument('[name-or-serial]')
    .option('--expiring-within <duration>', 'renew every current certificate expiring within this duration (e.g. 7d)', durationOption)
    .addOption(daysOption())
    .addOption(passphraseOption())
    .action(async (target: string | undefined, o: Common & { expiringWithin?: number; days?: number }) => {
      if ((target === undefined) === (o.expiringWithin === undefined)) {
        throw new UsageError('give either a NAME/SERIAL or --expiring-within DURATION', 'e.g. `dockward pki renew ci` or `dockward pki renew --expiring-within 3d`');
      }
      const results = await renew({ dir: resolvePkiDir(o.pki), target, expiringWithinMs: o.expiringWithin, days: o.days, passphrase: await caPassphrase(o) });
      report(o, results, () => (results.length ? results.map(describe).join('\n') : 'nothing to renew'));
    });

  withJson(withPkiDir(pki.command('encrypt-key')))
    .description('encrypt the CA key with a passphrase (or, with --change, give it a new one); later commands then need the passphrase')
    .addOption(passphraseOption())
    .option('--change', `replace the passphrase of an encrypted key: the current one as above, the new one from --new-passphrase-file, $${NEW_PASSPHRASE_ENV} or a prompt`)
    .option('--new-passphrase-file <file>', 'with --change: read the new passphrase from FILE')
    .addHelpText(
      'after',
      [
        '',
        'The passphrase never comes from the command line (argv is readable by every user in /proc).',
        'The key stays readable by `openssl pkey` with the passphrase, for recovery.',
        '',
        'Examples:',
        '  dockward pki encrypt-key                    # asks for the new passphrase twice',
        '  dockward pki encrypt-key --passphrase-file /root/ca.pass',
        `  ${PASSPHRASE_ENV}=… dockward pki encrypt-key`,
        '  dockward pki encrypt-key --change           # asks for the current passphrase, then the new one',
        `  ${PASSPHRASE_ENV}=… ${NEW_PASSPHRASE_ENV}=… dockward pki encrypt-key --change`,
        '',
      ].join('\n'),
    )
    .action(async (o: Common & { change?: boolean; newPassphraseFile?: string }) => {
      const dir = resolvePkiDir(o.pki);
      if (o.newPassphraseFile && !o.change) throw new UsageError('--new-passphrase-file goes with --change', 'without --change, give the passphrase with --passphrase-file');
      const none = (what: string, file: string, env: string) =>
        new DockwardError(`no ${what}`, `set ${env}, pass ${file} FILE, or run on a terminal to be prompted`);
      // Refused before any passphrase is asked for.
      await checkEncryptable(dir, o.change);
      const current = o.change ? await caPassphrase(o) : undefined;
      const next = await resolvePassphrase(
        o.change
          ? { file: o.newPassphraseFile, env: NEW_PASSPHRASE_ENV, prompt: 'New CA passphrase: ', confirm: true }
          : { file: o.passphraseFile, confirm: true, prompt: 'New CA passphrase: ' },
      );
      if (!next) throw o.change ? none('new passphrase was given', '--new-passphrase-file', NEW_PASSPHRASE_ENV) : none('passphrase was given to encrypt the CA key with', '--passphrase-file', PASSPHRASE_ENV);
      const r = await encryptCaKey({ dir, passphrase: current, newPassphrase: next, change: o.change });
      if (o.json) return printJson(r);
      process.stdout.write(`${r.changed ? 'passphrase changed' : 'encrypted'}: ${r.path}\nCommands that sign (server, client, revoke, crl, renew) now need the passphrase: $${PASSPHRASE_ENV}, --passphrase-file or a prompt.\n`);
    });

  withJson(withPkiDir(pki.command('verify')))
    .description('explain in plain words whether Docker would accept a certificate, and if not, why')
    .argument('<file>', 'certificate (PEM)')
    .addOption(new Option('--purpose <purpose>', 'how the certificate will be used').choices(['server', 'client']))
    .option('--host <name>', 'the host name clients dial (server certificates)')
    .option('--ip <address>', 'the IP address clients dial (server certificates)')
    .option('--ca <file>', 'CA certificate (default: ca.pem beside FILE, else the PKI CA)')
    .option('--key <file>', 'private key to check against the certificate (default: the key beside FILE)')
    .option('--crl <file>', 'CRL to check revocation against (default: the PKI CRL)')
    .action(async (file: string, o: Common & { purpose?: 'server' | 'client'; host?: string; ip?: string; ca?: string; key?: string; crl?: string }) => {
      const r = await runVerify(file, o);
      if (o.json) printJson(r);
      else process.stdout.write(formatVerifyReport(r));
      if (!r.accepted) process.exitCode = 1;
    });
}

async function runVerify(file: string, o: Common & { purpose?: 'server' | 'client'; host?: string; ip?: string; ca?: string; key?: string; crl?: string }) {
  const read = async (path: string, what: string) => {
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      throw new DockwardError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const optional = (path: string) => readFile(path, 'utf8').catch(() => undefined);
  const certPem = await read(file, 'the certificate');
  const layout = pkiLayout(resolvePkiDir(o.pki));
  const caPem = o.ca ? await read(o.ca, 'the CA') : ((await optional(join(dirname(file), 'ca.pem'))) ?? (await read(layout.caCert, 'the CA')));
  const keyPem = o.key ? await read(o.key, 'the key') : undefined;
  const crlPem = o.crl ? await read(o.crl, 'the CRL') : await optional(layout.crl);
  const purpose = o.purpose ?? (basename(file).startsWith('server') ? 'server' : 'client');
  return verifyCertificate({ certPem, file, caPem, purpose, host: o.host, ip: o.ip, keyPem, keyFile: o.key, crlPem });
}
