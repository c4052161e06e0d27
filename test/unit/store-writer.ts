// A second process writing the store, for the concurrency test (not a test itself):
//   node store-writer.js <db path> <tag> <rows>
// Opens (and, on a fresh file, migrates) the store at the same moment as its siblings, then
// writes one audit row and one run per iteration, each in its own transaction.
import { Store } from '../../src/store/store.js';
import type { Report } from '../../src/engine/report.js';

const [path = '', tag = 'w', countText = '100'] = process.argv.slice(2);
const count = Number(countText);
const store = Store.open(path, { busyTimeoutMs: 10_000 });
for (let i = 0; i < count; i++) {
  const id = store.addAudit({ source: 'cli', action: 'check', user: tag, target: `sshcheck@h${i}:22`, host: `h${i}`, port: 22, verdict: 'running' });
  store.updateAudit(id, { verdict: 'healthy', cause: 'healthy', durationMs: i });
  const report = {
    id: `${tag}-${i}`,
    startedAt: new Date().toISOString(),
    durationMs: 5,
    target: { input: `h${i}`, host: `h${i}`, port: 22, user: 'sshcheck', addresses: ['10.0.0.1'] },
    vantage: { name: tag },
    diagnosis: { cause: 'healthy', step: null, confidence: 'high', summary: 'ok', next: [], alternatives: [] },
  } as unknown as Report;
  store.recordRun(report, 'cli');
}
store.close();
process.stdout.write(`done ${count}\n`);
