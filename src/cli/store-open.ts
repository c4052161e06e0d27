// Opening the store for `sshcheck history` and `sshcheck audit`: the engine config's store
// section and $SSHCHECK_DB decide where it is (src/store/paths.ts). Reading commands do not
// create a store that does not exist: they say where they looked. They open it read-only:
// no pragma, migration or pruning is written, so a store another process holds locked is
// still read at once (WAL).
import { existsSync, readdirSync } from 'node:fs';
import { findEngineConfig } from '../config/engine-config.js';
import type { EngineConfig } from '../config/engine-config.js';
import { SshcheckError, errorMessage } from '../errors.js';
import { storePath } from '../store/paths.js';
import { Store } from '../store/store.js';
import { spoolDir } from '../store/spool.js';

type Env = Readonly<Record<string, string | undefined>>;

/** A note when rows wait in spool files (written while the store was locked): not in the file yet. */
export function spoolNote(path: string): string | undefined {
  let files: string[];
  try {
    files = readdirSync(spoolDir(path)).filter((n) => n.endsWith('.jsonl'));
  } catch {
    return undefined;
  }
  if (files.length === 0) return undefined;
  return `note: ${files.length === 1 ? '1 process has' : `${files.length} processes have`} rows waiting in ${spoolDir(path)} (written while the store was locked); they are not shown until the next sshcheck that writes the store (bot, serve, a check) writes them`;
}

export function openStoreForReading(env: Env): { store: Store; config: EngineConfig | undefined } | { missing: string } {
  const config = findEngineConfig(undefined, env);
  const { path, source } = storePath(config?.store, { env });
  if (!existsSync(path)) return { missing: `no store at ${path} (${source === 'SSHCHECK_DB' ? 'from $SSHCHECK_DB' : source === 'config' ? 'store.path in the engine config' : 'the default location'}): nothing has been recorded there yet` };
  try {
    return { store: Store.open(path, { readonly: true, busyTimeoutMs: 1000 }), config };
  } catch (err) {
    if (err instanceof SshcheckError) throw err;
    throw new SshcheckError('E_STORE', `cannot open the store ${path}: ${errorMessage(err)}`);
  }
}
