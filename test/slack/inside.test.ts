// The report's inside evidence in the Slack thread: the engine logs in to a real loopback
// sshd with a diagnostics key (root, strict host key checking), and the step replies show
// what it saw inside — the login and sshd's listeners — as escaped text. Needs root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordedCall } from './fake-slack.js';
import { allText, settled, startHarness, threadIn } from './harness.js';
import { findUnsafeMarkup } from './markup-check.js';
import { diagnosticsUnavailable, startDiagnosticsSshd } from '../support/diagnostics-sshd.js';

const unavailable = diagnosticsUnavailable();
if (unavailable !== undefined) console.log(`skipping the Slack inside-view test: ${unavailable}`);

/** A reply as it finally reads: its last edit, or the post itself. */
function finalText(post: RecordedCall, updates: readonly RecordedCall[]): string {
  const edits = updates.filter((u) => u.args['ts'] === post.response['ts']);
  return allText((edits[edits.length - 1] ?? post).args);
}

test('a diagnostics login: step 4 shows the login and the listeners from inside, rendered safely', { skip: unavailable ?? false, timeout: 60_000 }, async () => {
  const sshd = await startDiagnosticsSshd();
  const h = await startHarness({ engineConfig: sshd.engineConfig });
  try {
    await h.fake.sendSlashCommand({ text: `127.0.0.1 ${sshd.port}`, channel_id: 'C0INSIDE' }).ack;
    await settled(h, 1, 45_000);
    const { replies } = threadIn(h.fake, 'C0INSIDE');
    assert.equal(replies.length, 10);
    const updates = h.fake.callsOf('chat.update', 'C0INSIDE');
    const step4 = finalText(replies[3] as RecordedCall, updates);
    assert.match(step4, /^\S+ 4\. /);
    assert.match(step4, new RegExp(`inside: logged in as root on 127\\.0\\.0\\.1:${sshd.port} in `));
    assert.match(step4, new RegExp(`inside: listening: [^\\n]*127\\.0\\.0\\.1:${sshd.port}`));
    const all = [...h.fake.callsOf('chat.postMessage', 'C0INSIDE'), ...updates];
    assert.ok(all.some((c) => /inside: load /.test(allText(c.args))), 'the load step shows the inside view too');
    assert.deepEqual(all.flatMap((c) => findUnsafeMarkup(c.args, ['<@U0REQUESTER>'])), []);
  } finally {
    await h.close();
    await sshd.stop();
  }
});
