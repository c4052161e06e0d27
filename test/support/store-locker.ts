// A second process holding the store's write lock, for the lock tests (not a test itself):
//   node store-locker.js <db path>
// Opens the database, runs BEGIN EXCLUSIVE, prints "locked" and holds the lock until its
// stdin closes or it gets SIGTERM; then it rolls back and exits. The tests start it and end
// it by its pid.
import Database from '../../src/store/sqlite.js';

const path = process.argv[2] ?? '';
const db = new Database(path, { fileMustExist: true, timeout: 10_000 });
db.exec('BEGIN EXCLUSIVE');
process.stdout.write('locked\n');
const release = (): void => {
  if (db.inTransaction) db.exec('ROLLBACK');
  db.close();
  process.exit(0);
};
process.on('SIGTERM', release);
process.stdin.on('end', release);
process.stdin.resume();
