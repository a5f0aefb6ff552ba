/**
 * Promise.all whose failure does not depend on timing: everything runs at once, and when several
 * fail the first in the given order is thrown. With Promise.all, a bundle missing two of its files
 * named whichever read lost the race, so the same input gave two different errors.
 */
export async function allInOrder<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
