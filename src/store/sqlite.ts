// The SQLite binding for this Node: better-sqlite3 12 (a node::ObjectWrap addon) on Node 20,
// better-sqlite3 13 (Node-API, prebuilt) on Node 22 and later. 12 aborts processes on Node 24
// (its Statement destructor removes a cleanup hook after the environment is gone: exit 134),
// and 13 does not load on Node 20, so neither one alone runs on both supported Nodes. Both
// have the same JavaScript API; the types are 12's.
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

const require = createRequire(import.meta.url);
const major = Number(process.versions.node.split('.')[0]);

/** The package that loads on this Node (a name for messages and tests). */
export const SQLITE_PACKAGE = major >= 22 ? 'better-sqlite3-node22' : 'better-sqlite3';

const Database = require(SQLITE_PACKAGE) as typeof BetterSqlite3;

export default Database;
export type { Database as SqliteDatabase } from 'better-sqlite3';
