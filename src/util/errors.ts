/**
 * Errors the CLI turns into one clear line. `UsageError` is the user's input being wrong
 * (exit 2); `DockwardError` is a failure the user can act on (exit 1).
 */
export class DockwardError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'DockwardError';
  }
}

export class UsageError extends DockwardError {
  override readonly exitCode = 2;
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'UsageError';
  }
}

export function errorLine(e: unknown): string {
  if (e instanceof DockwardError) return e.hint ? `${e.message} (${e.hint})` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
