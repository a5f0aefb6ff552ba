import type { Command } from 'commander';
import { runDoctor, formatDoctorReport } from '../client/doctor.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('explain in plain words why a Docker connection fails (TLS, certificates, ports) and how to fix it')
    .argument('[address]', 'tcp://HOST:PORT (default: $DOCKER_HOST, else the current docker context)')
    .option('--bundle <dir>', 'client bundle with ca.pem, cert.pem, key.pem (default: $DOCKER_CERT_PATH or ~/.docker when DOCKER_TLS_VERIFY is set)')
    .option('--context <name>', 'diagnose the endpoint and TLS material of this docker CLI context (default: the current one when DOCKER_HOST is unset)')
    .option('--json', 'print the report as JSON')
    .action(async (address: string | undefined, opts: { bundle?: string; context?: string; json?: boolean }) => {
      const report = await runDoctor({ target: address, bundle: opts.bundle, context: opts.context });
      process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatDoctorReport(report));
      process.exitCode = report.ok ? 0 : 1;
    });
}
