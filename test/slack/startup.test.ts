// Starting and stopping: `sshcheck bot` loads this adapter; a token Slack rejects stops the
// start with a message that names the variable to fix and never the token itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSlackAdapter } from '../../adapters/slack/index.js';
import { loadAdapters } from '../../src/cli/bot.js';
import { InProcessEngine } from '../../src/chat/engine-client.js';
import { APP_TOKEN, BOT_TOKEN, FakeSlack } from './fake-slack.js';
import { rawLogger, startHarness } from './harness.js';
import { openGate } from '../support/open-gate.js';

const WRONG_BOT = 'xoxb-9999999999-8888888888-WrongBotTokenForTests';
const WRONG_APP = 'xapp-1-A0FAKEAPP-7777777777-wrongapptokenfortests0123456789';

test('sshcheck bot loads the Slack adapter for a Slack config (no I/O until start)', async () => {
  const logs: string[] = [];
  const adapters = await loadAdapters(
    { slack: { botToken: BOT_TOKEN, mode: { kind: 'socket', appToken: APP_TOKEN }, apiUrl: 'http://127.0.0.1:9/api/' }, secrets: [] },
    { engine: new InProcessEngine(), logger: rawLogger(logs), vantage: 'v', gate: openGate() },
  );
  assert.deepEqual(
    adapters.map((a) => a.name),
    ['slack'],
  );
  assert.deepEqual(logs, []);
});

test('a rejected bot token: start fails naming SLACK_BOT_TOKEN, and the token is in no message or log', async () => {
  const fake = await FakeSlack.start();
  const logs: string[] = [];
  try {
    const adapter = createSlackAdapter({ botToken: WRONG_BOT, mode: { kind: 'socket', appToken: APP_TOKEN }, apiUrl: fake.apiUrl }, { engine: new InProcessEngine(), logger: rawLogger(logs), vantage: 'v', gate: openGate() });
    await assert.rejects(adapter.start(), (err: Error) => {
      assert.match(err.message, /SLACK_BOT_TOKEN was not accepted \(auth\.test\).*invalid_auth/);
      assert.ok(!err.message.includes(WRONG_BOT));
      return true;
    });
    await adapter.stop();
    assert.equal(fake.calls[0]?.method, 'auth.test');
    assert.equal(fake.calls.filter((c) => c.method === 'apps.connections.open').length, 0);
  } finally {
    await fake.close();
  }
  assert.ok(!logs.some((l) => l.includes(WRONG_BOT) || l.includes('xoxb-') || l.includes('xapp-')));
});

test('a rejected app token: Socket Mode fails to connect with a message naming SLACK_APP_TOKEN', async () => {
  const fake = await FakeSlack.start();
  const logs: string[] = [];
  try {
    const adapter = createSlackAdapter({ botToken: BOT_TOKEN, mode: { kind: 'socket', appToken: WRONG_APP }, apiUrl: fake.apiUrl }, { engine: new InProcessEngine(), logger: rawLogger(logs), vantage: 'v', gate: openGate() });
    await assert.rejects(adapter.start(), /SLACK_APP_TOKEN must be an app-level token.*invalid_auth/);
    await adapter.stop();
    // apps.connections.open went to SLACK_API_URL, carrying the app token.
    const open = fake.calls.filter((c) => c.method === 'apps.connections.open');
    assert.equal(open.length, 1);
    assert.equal(open[0]?.token, WRONG_APP);
  } finally {
    await fake.close();
  }
  assert.ok(!logs.some((l) => l.includes(WRONG_APP) || l.includes('xapp-') || l.includes('xoxb-')));
});

test('stop() disconnects from Socket Mode', async () => {
  const h = await startHarness();
  assert.equal(h.fake.connections, 1);
  await h.adapter.stop();
  await h.fake.waitFor(() => h.fake.connections === 0, 3000, 'the socket to close');
  await h.close(); // a second stop() returns at once
});
