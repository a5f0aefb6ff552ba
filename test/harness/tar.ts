import { pack } from 'tar-stream';

/** What tar-stream's `entry` takes for a header: a name, the rest defaulted. */
export type TarHeader = Parameters<ReturnType<typeof pack>['entry']>[0];

/** A tar archive of `entries` in order, each written as given (data only where there is some). */
export async function packTar(entries: { header: TarHeader; data?: Buffer | string }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => p.on('end', resolve));
  for (const e of entries) {
    if (e.data === undefined) p.entry(e.header);
    else p.entry(e.header, e.data);
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}
