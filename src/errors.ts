// Errors carry a stable code (for programs and tests) and a message a person can act on.

export type ErrorCode =
  | 'E_TARGET_EMPTY'
  | 'E_TARGET_OPTION'
  | 'E_TARGET_CHARACTER'
  | 'E_TARGET_LENGTH'
  | 'E_TARGET_LABEL'
  | 'E_TARGET_NUMERIC'
  | 'E_TARGET_IDN'
  | 'E_TARGET_IPV6'
  | 'E_TARGET_PORT'
  | 'E_TARGET_USER'
  | 'E_TARGET_CONFLICT'
  | 'E_USAGE'
  | 'E_ENGINE'
  /** The target policy refused the target or an address it resolves to: nothing was probed. */
  | 'E_POLICY'
  /** The audit and history store cannot be opened or written. */
  | 'E_STORE'
  /** The connection budget for the target is spent and no earlier result can be given: nothing was probed. */
  | 'E_BUDGET'
  /** A probe was given options it does not accept (a ping count, interval, wait or size): it did not start. */
  | 'E_PROBE_OPTION';

export class SshcheckError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SshcheckError';
    this.code = code;
  }
}

export function isSshcheckError(value: unknown): value is SshcheckError {
  return value instanceof SshcheckError;
}

/** What went wrong, in its own words: an Error's message, or anything else thrown as text. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
