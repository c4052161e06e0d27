// The bot side of the watch lab test, run inside the lab's bastion namespace:
//   node watch-driver.js <store.db>
// A WatchRunner as `sshcheck bot` builds it (the store's watches table and connection ledger,
// the real gate with its audit log, single flight, the in-process engine), with a poster that
// prints what a chat would show as JSON lines on stdout. On start it resumes the watches the
// store holds (a restarted bot). Commands on stdin, one JSON object a line:
//   {"op":"watch","text":"watch 10.77.2.2 every 1s for 5m","channel":"C1"}
//   {"op":"unwatch","host":"10.77.2.2","port":22,"channel":"C1"}
//   {"op":"close"}   the bot stops: its watches stay in the store; the process exits
import { createInterface } from 'node:readline';
import { InProcessEngine } from '../../src/chat/engine-client.js';
import { Gate } from '../../src/chat/gate.js';
import { SharedRuns } from '../../src/chat/shared-runs.js';
import type { WatchView } from '../../src/chat/watch.js';
import { WATCH_LIMITS } from '../../src/chat/watch.js';
import { parseWatchCommand } from '../../src/chat/watch-grammar.js';
import type { WatchPlace, WatchPoster } from '../../src/chat/watch-runner.js';
import { WatchRunner } from '../../src/chat/watch-runner.js';
import { createLogger } from '../../src/log.js';
import { StoreConnectionLedger } from '../../src/store/connection-ledger.js';
import { Store } from '../../src/store/store.js';
import { watchStoreOf } from '../../src/store/watch-store.js';
import { ALLOW_ALL_POLICY, OPEN_LIMITS } from '../support/open-gate.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: watch-driver.js <store.db>');
const out = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

let refs = 0;
const poster: WatchPoster = {
  postParent(place, view) {
    const ref = `${place.channel}-${process.pid}-${++refs}`;
    out({ op: 'parent', ref, view: summary(view) });
    return Promise.resolve({ parentRef: ref });
  },
  updateParent(place: WatchPlace, view: WatchView) {
    out({ op: 'update', ref: place.parentRef, view: summary(view) });
    return Promise.resolve();
  },
  postInThread(place: WatchPlace, text: string) {
    out({ op: 'thread', ref: place.parentRef, text });
    return Promise.resolve();
  },
  actor: (who) => ({ platform: 'slack', channel: who.channel, user: who.user }),
};

function summary(view: WatchView): Record<string, unknown> {
  return { id: view.id, cause: view.progress.current?.cause ?? null, checks: view.progress.checks, changes: view.progress.changes, note: view.progress.lastNote ?? null, stopped: view.stopped ?? null };
}

const store = Store.open(path);
store.recover();
const logger = createLogger({ name: 'watch-driver', level: 'warn' });
// As `sshcheck bot` builds its engine, with a budget no watch of the test reaches (every check
// connects, so a fault is seen) and a short reuse (the test's interval is 1 s, not 30).
const engine = new SharedRuns(
  new InProcessEngine({ vantage: 'lab-bastion', extrasMs: 0, policy: ALLOW_ALL_POLICY, ledger: new StoreConnectionLedger(store), connectionBudget: { connections: 1000, windowMs: 600_000 } }),
  { reuseMs: 500 },
);
const limits = { ...WATCH_LIMITS, minEveryMs: 1000 };
const runner = new WatchRunner({ store: watchStoreOf(store), gate: new Gate({ policy: ALLOW_ALL_POLICY, limits: OPEN_LIMITS, store, logger }), engine, vantage: 'lab-bastion', logger, limits });
runner.register('slack', poster);
out({ op: 'resumed', ...(await runner.resume('slack')) });

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const command = JSON.parse(line) as { op: string; text?: string; channel?: string; host?: string; port?: number };
  if (command.op === 'watch') {
    const parsed = parseWatchCommand(command.text ?? '', { limits });
    if (parsed?.kind !== 'watch') throw new Error(`not a watch: ${command.text ?? ''}`);
    out({ op: 'started', ...(await runner.start({ platform: 'slack', workspace: 'T1', channel: command.channel ?? 'C1', user: 'U1', requester: '<@U1>', command: parsed })) });
  } else if (command.op === 'unwatch') {
    out({ op: 'unwatched', count: await runner.unwatch('slack', command.channel ?? 'C1', command.host ?? '', command.port ?? 22, '<@U2>') });
  } else if (command.op === 'close') {
    await runner.close();
    store.close();
    out({ op: 'closed' });
    process.exit(0);
  }
}
