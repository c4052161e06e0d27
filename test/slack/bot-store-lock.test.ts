// `sshcheck bot` while a real second process holds BEGIN EXCLUSIVE on its store: the bot's
// gate writes the audit log from the store's own thread, so the bot keeps acknowledging and
// answering; a check whose audit row cannot be written is refused (nothing probed), a policy
// refusal is answered at once, and both rows land once the lock is gone. The old bot wrote
// from its event loop and stalled for the whole 5 s busy timeout on every request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { runBot } from '../../src/cli/bot.js';
import { Store } from '../../src/store/store.js';
import { holdStoreLock } from '../support/store-lock.js';
import { closedPort, writeEngineConfig } from '../support/serve-child.js';
import { APP_TOKEN, BOT_TOKEN, FakeSlack, TEAM_ID } from './fake-slack.js';
import { allText, answerTo } from './harness.js';

test('sshcheck bot under a store lock held by another process: answers at once, refuses the check it cannot record, every row lands after', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-bot-lock-'));
  const fake = await FakeSlack.start();
  const db = join(dir, 'audit.db');
  let stop = (): void => undefined;
  let stderr = '';
  const running = runBot(
    { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: fake.apiUrl, SSHCHECK_DB: db, SSHCHECK_ENGINE_CONFIG: writeEngineConfig(dir), SSHCHECK_VANTAGE: 'bot-test', HOME: dir },
    { stderr: (t) => (stderr += t), stopSignal: new Promise<void>((r) => (stop = r)), log: () => undefined },
  );
  // The bot runs in this process: a synchronous SQLite wait would stall this loop too.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  try {
    await fake.whenConnected();
    const port = await closedPort();
    const lock = await holdStoreLock(db);
    loop.enable();
    let check: Record<string, unknown>;
    let metadata: Record<string, unknown>;
    try {
      check = await answerTo(fake, fake.sendSlashCommand({ text: `127.0.0.1:${port}`, channel_id: 'C0OPS', user_id: 'U0ALICE' }));
      metadata = await answerTo(fake, fake.sendSlashCommand({ text: '169.254.169.254', channel_id: 'C0OPS', user_id: 'U0ALICE' }));
    } finally {
      loop.disable();
      await lock.release();
    }
    assert.match(allText(check), /The audit log cannot be written now \(the audit log is locked by another process\), and sshcheck runs no check it cannot record: try again in a moment/);
    assert.match(allText(metadata), /cloud instance metadata/);
    // The old bot's loop stood still for the busy timeout (5 s) on each of these requests.
    assert.ok(loop.max / 1e6 < 4000, `the bot's event loop stalled ${Math.round(loop.max / 1e6)} ms under the lock`);
    assert.equal(fake.calls.filter((c) => c.method === 'chat.postMessage').length, 0, 'nothing posted, nothing probed');
    // With the lock gone, the same check runs.
    const after = await answerTo(fake, fake.sendSlashCommand({ text: `127.0.0.1:${port}`, channel_id: 'C0OPS', user_id: 'U0ALICE' }));
    assert.doesNotMatch(allText(after), /audit log/);
    await fake.waitFor(() => fake.calls.some((c) => c.method === 'chat.postMessage'), 30_000, 'the check after the lock to post its thread');
  } finally {
    stop();
    assert.equal(await running, 0, stderr);
    await fake.close();
  }
  const store = Store.open(db);
  try {
    const rows = store.audit().map((r) => [r.source, r.workspace, r.user, r.host, r.verdict, r.denial]);
    assert.deepEqual(rows.slice(0, 2), [
      ['slack', TEAM_ID, 'U0ALICE', '127.0.0.1', 'denied', 'audit'],
      ['slack', TEAM_ID, 'U0ALICE', '169.254.169.254', 'denied', 'policy'],
    ]);
    assert.equal(rows.length, 3, JSON.stringify(rows));
    assert.equal(rows[2]?.[3], '127.0.0.1');
    assert.notEqual(rows[2]?.[4], 'denied');
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
