// The probe engine's public surface: run a check, and the report contract's types.
export { run, DEFAULT_BUDGET_MS, DEFAULT_EXTRAS_MS, SSH_CONNECTIONS_PER_RUN } from './run.js';
export type { RunOptions } from './run.js';
export { parseTarget, formatTarget, DEFAULT_PORT, DEFAULT_USER } from '../target.js';
export type { Target } from '../target.js';
export { SshcheckError, isSshcheckError } from '../errors.js';
export * from './report.js';
