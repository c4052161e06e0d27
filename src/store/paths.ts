// Where the store lives when nobody says: $SSHCHECK_DB, else the engine config's store.path,
// else /var/lib/sshcheck/sshcheck.db when that directory exists and this user may write it
// (a bastion where the bot, `sshcheck serve` and operators share one store), else the user's
// own state directory ($XDG_STATE_HOME/sshcheck, ~/.local/state/sshcheck). Pure apart from
// the injected file-system checks.
import { accessSync, constants, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SshcheckError } from '../errors.js';
import type { StoreConfig } from './config.js';

export const SYSTEM_STORE_DIR = '/var/lib/sshcheck';
export const STORE_FILE = 'sshcheck.db';

export type StorePathSource = 'SSHCHECK_DB' | 'config' | 'system' | 'user';

export interface StorePathDeps {
  env: Readonly<Record<string, string | undefined>>;
  /** True when `dir` exists, is a directory and this process may create files in it. */
  writableDir?: (dir: string) => boolean;
  home?: () => string;
}

export function isWritableDir(dir: string): boolean {
  try {
    if (!statSync(dir).isDirectory()) return false;
    accessSync(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function storePath(config: StoreConfig | undefined, deps: StorePathDeps): { path: string; source: StorePathSource } {
  const fromEnv = deps.env.SSHCHECK_DB?.trim();
  if (fromEnv) {
    if (!fromEnv.startsWith('/')) throw new SshcheckError('E_USAGE', `SSHCHECK_DB must be an absolute path, not "${fromEnv.slice(0, 80)}"`);
    return { path: fromEnv, source: 'SSHCHECK_DB' };
  }
  if (config?.path !== undefined) return { path: config.path, source: 'config' };
  if ((deps.writableDir ?? isWritableDir)(SYSTEM_STORE_DIR)) return { path: join(SYSTEM_STORE_DIR, STORE_FILE), source: 'system' };
  // XDG: a relative XDG_STATE_HOME is invalid and must be ignored.
  const xdg = deps.env.XDG_STATE_HOME?.trim();
  const base = xdg && xdg.startsWith('/') ? xdg : join(deps.env.HOME?.trim() || (deps.home ?? homedir)(), '.local', 'state');
  return { path: join(base, 'sshcheck', STORE_FILE), source: 'user' };
}
