const said = new Set<string>();

/** Prints a warning to stderr once per process, however many operations trigger it. */
export function warnOnce(message: string): void {
  if (said.has(message)) return;
  said.add(message);
  process.stderr.write(`dockward: warning: ${message}\n`);
}
