import { InvalidArgumentError, type Command } from 'commander';
import ms from 'ms';

/** Parsers and shared option sets for every subcommand, so flags mean the same everywhere. */
export function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
}

export function durationOption(value: string): number {
  const n = ms(value as ms.StringValue);
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('give a duration such as 7d, 12h or 30m');
  return n;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

export function withPkiDir(cmd: Command): Command {
  return cmd.option('--pki <dir>', 'PKI directory (default: $DOCKWARD_PKI, /etc/dockward/pki for root, else ~/.config/dockward/pki)');
}

export function withJson(cmd: Command): Command {
  return cmd.option('--json', 'machine-readable output');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
