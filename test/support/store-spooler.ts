// A process that writes one audit row through the store's thread while another process holds
// the lock, for the crash test (not a test itself):  node store-spooler.js <db path>
// Prints "spooled <file>" once the row is on disk in its spool, then waits to be killed.
import { StoreClient } from '../../src/store/client.js';

const store = await StoreClient.open(process.argv[2] ?? '', { busyTimeoutMs: 50 });
void store.addAudit({ source: 'service', action: 'check', target: 'sshcheck@db-9:22', host: 'db-9', port: 22, verdict: 'running' }, { spooled: (file) => process.stdout.write(`spooled ${file}\n`) });
setInterval(() => undefined, 60_000);
