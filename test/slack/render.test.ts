// Block Kit rendering, pure: Slack's limits hold whatever the evidence holds, and nothing a
// server sent can become a mention, a link or formatting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capBlocks, renderAck, renderFallback, renderParent, renderStep, renderUsage, renderUsageError } from '../../adapters/slack/render.js';
import type { SlackBlock, SlackMessage } from '../../adapters/slack/render.js';
import { fitCodeBlock, fitInline, packTexts, SLACK_LIMITS } from '../../adapters/slack/limits.js';
import { safeText } from '../../src/chat/safe-text.js';

const safeSlack = (text: string): string => safeText(text, 'slack');
import { inviteHint } from '../../adapters/slack/surface.js';
import { stripBotMention } from '../../adapters/slack/mentions.js';
import { scrubSdkText } from '../../adapters/slack/bolt-logger.js';
import { toSurfaceError } from '../../adapters/slack/errors.js';
import { finishedParent, initialParent, nextParent, STATUS_EMOJI } from '../../src/chat/views.js';
import type { ParentView } from '../../src/chat/views.js';
import { REPORT_SCHEMA, STEP_IDS, STEP_TITLES } from '../../src/engine/report.js';
import type { Diagnosis, Report, StepReport } from '../../src/engine/report.js';
import { parseTarget } from '../../src/target.js';
import { findUnsafeMarkup, outsideCode } from './markup-check.js';
import { HOSTILE } from './targets.js';

const REQUESTER = '<@U0REQUESTER>';

function step(n: number, extra: Partial<StepReport> = {}): StepReport {
  const id = STEP_IDS[n - 1] ?? 'bans';
  return { id, n, title: STEP_TITLES[id], status: 'pass', summary: `step ${n} is fine`, evidence: [{ probe: 'tcp', detail: '10.0.0.5:22 connected in 0.4 ms' }], durationMs: 10, manual: [], ...extra };
}

const DIAGNOSIS: Diagnosis = {
  cause: 'port-closed',
  step: 'sshd',
  confidence: 'high',
  summary: 'nothing listens on 10.0.0.5:22 (TCP reset)',
  next: ['start sshd: `sudo systemctl start ssh`'],
  alternatives: [{ cause: 'port-rejected', step: 'firewall', confidence: 'low' }],
};

function report(steps: StepReport[] = STEP_IDS.map((_, i) => step(i + 1)), diagnosis: Diagnosis = DIAGNOSIS): Report {
  return {
    schema: REPORT_SCHEMA,
    id: 'r1',
    target: { input: 'db-3', host: 'db-3', port: 22, user: 'sshcheck', addresses: ['10.0.0.5'] },
    vantage: { name: 'bastion-eu-1' },
    startedAt: '2026-11-24T10:00:00.000Z',
    durationMs: 1234,
    diagnosedMs: 100,
    steps,
    diagnosis,
  };
}

function parent(): ParentView {
  return initialParent(parseTarget('db-3'), 'bastion-eu-1', REQUESTER);
}

function allTexts(message: SlackMessage): string[] {
  const texts = [message.text];
  for (const b of message.blocks) {
    if (b.type === 'section') texts.push(b.text.text);
    if (b.type === 'context') texts.push(...b.elements.map((e) => e.text));
  }
  return texts;
}

function assertWithinLimits(message: SlackMessage): void {
  assert.ok(message.blocks.length <= SLACK_LIMITS.blocks, `${message.blocks.length} blocks`);
  assert.ok(message.text.length <= SLACK_LIMITS.messageText, `text of ${message.text.length}`);
  assert.ok(message.text.length > 0);
  for (const b of message.blocks) {
    if (b.type === 'section') assert.ok(b.text.text.length <= SLACK_LIMITS.sectionText, `section of ${b.text.text.length}`);
    if (b.type === 'context') {
      assert.ok(b.elements.length <= SLACK_LIMITS.contextElements);
      for (const e of b.elements) assert.ok(e.text.length <= SLACK_LIMITS.sectionText && e.text.length > 0);
    }
  }
}

/** Every ``` opens and closes, every ` span closes: a cut never leaves markup open. */
function assertBalanced(text: string): void {
  const fences = text.match(/```/g)?.length ?? 0;
  assert.equal(fences % 2, 0, `unbalanced code block in ${text.slice(0, 80)}`);
  const singles = text.replace(/```[\s\S]*?```/g, '').match(/`/g)?.length ?? 0;
  assert.equal(singles % 2, 0, `unbalanced code span in ${text.slice(0, 80)}`);
  assert.doesNotMatch(text, /&(?!amp;|lt;|gt;)/, 'a bare & or a cut entity');
}

test('the parent while running: target, bastion, requester, and no diagnosis yet', () => {
  const m = renderParent(parent());
  assertWithinLimits(m);
  const all = allTexts(m).join('\n');
  assert.match(all, /sshcheck@db-3/);
  assert.match(all, /bastion-eu-1/);
  assert.ok(all.includes(REQUESTER), 'the requester is mentioned');
  assert.match(all, new RegExp(STATUS_EMOJI.running));
  assert.doesNotMatch(all, /Diagnosis/);
});

test('the parent once diagnosed, then finished: cause, confidence, next steps, the ten statuses', () => {
  const diagnosed = nextParent(parent(), { type: 'diagnosis', diagnosis: DIAGNOSIS, elapsedMs: 100 });
  const d = allTexts(renderParent(diagnosed)).join('\n');
  assert.match(d, /Diagnosis:\* `port-closed` \(high confidence, step 4: The SSH daemon\)/);
  assert.match(d, /nothing listens on/);
  assert.match(d, /Next:/);
  assert.match(d, /Also possible: `port-rejected` \(low\)/);
  const steps = STEP_IDS.map((_, i) => step(i + 1, { status: i === 3 ? 'fail' : i === 7 ? 'skip' : 'pass' }));
  const finished = finishedParent(diagnosed, report(steps));
  const f = renderParent(finished);
  assertWithinLimits(f);
  const line = `${STATUS_EMOJI.pass.repeat(3)}${STATUS_EMOJI.fail}${STATUS_EMOJI.pass.repeat(3)}${STATUS_EMOJI.skip}${STATUS_EMOJI.pass.repeat(2)}`;
  assert.ok(allTexts(f).some((t) => t.includes(line)), 'the compact line of ten statuses');
  assert.ok(f.text.includes('port-closed'), 'the text fallback carries the diagnosis');
});

test('a failed check and a reused result say so', () => {
  const failed = renderParent({ ...parent(), phase: 'failed', error: 'engine crashed <!channel>' });
  assert.match(allTexts(failed).join('\n'), /The check itself failed/);
  assert.deepEqual(findUnsafeMarkup(failed, [REQUESTER]), []);
  const reused = renderParent({ ...parent(), reusedAgeMs: 4200 });
  assert.match(allTexts(reused).join('\n'), /Reused the result of the same check 4\.2 s ago/);
});

test('a step reply: status emoji, summary, evidence, the ssh -vvv phase list preformatted', () => {
  const s = step(2, {
    status: 'warn',
    summary: 'ssh stops after "connecting"',
    evidence: [{ probe: 'openssh-verbose', detail: 'ssh -vvv', lines: ['+0 ms     ssh started', '+0 ms     connecting to db-3 [10.0.0.5] port 22'] }],
    manual: [{ where: 'requester', command: 'ssh -vvv sshcheck@db-3', why: "shows where the requester's own connection stops" }],
  });
  const m = renderStep(s);
  assertWithinLimits(m);
  const all = allTexts(m).join('\n');
  assert.ok(all.startsWith(`${STATUS_EMOJI.warn} 2. Where the SSH handshake stops`), 'text fallback first');
  assert.match(all, /```\n\+0 ms {5}ssh started\n\+0 ms {5}connecting to db-3 \[10\.0\.0\.5\] port 22\n```/);
  assert.match(all, /By hand on the requester's machine:\* shows where/);
  assert.match(all, /```\nssh -vvv sshcheck@db-3\n```/);
});

test('manual commands are shown for steps that did not pass, not for passing ones', () => {
  const manual = [{ where: 'target' as const, command: 'sudo systemctl status sshd', why: 'is sshd running?' }];
  assert.doesNotMatch(allTexts(renderStep(step(4, { status: 'pass', manual }))).join('\n'), /systemctl/);
  assert.match(allTexts(renderStep(step(4, { status: 'fail', manual }))).join('\n'), /By hand on the target/);
});

test('limits: an evidence list that would need hundreds of blocks and huge sections fits in 50 blocks of at most 3000 characters', () => {
  const longLine = `${HOSTILE} ${'x'.repeat(5000)} &&& <<<`;
  const evidence = [
    ...Array.from({ length: 300 }, (_, i) => ({ probe: 'tcp' as const, detail: `${i}: ${longLine}` })),
    ...Array.from({ length: 40 }, () => ({ probe: 'openssh-verbose' as const, detail: `ssh -vvv ${longLine}`, lines: Array.from({ length: 2000 }, (_, j) => `+${j} ms ${longLine}`) })),
  ];
  const manual = Array.from({ length: 100 }, () => ({ where: 'target' as const, command: `grep ${longLine}`, why: longLine }));
  const m = renderStep(step(2, { status: 'fail', summary: longLine.repeat(3), evidence, manual }));
  assertWithinLimits(m);
  assert.equal(m.blocks.length, SLACK_LIMITS.blocks);
  const last = m.blocks[m.blocks.length - 1];
  assert.equal(last?.type, 'context');
  assert.match(last?.type === 'context' ? (last.elements[0]?.text ?? '') : '', /more blocks not shown/);
  for (const t of allTexts(m)) assertBalanced(t);
  assert.deepEqual(findUnsafeMarkup(m, []), []);
});

test('limits: one enormous evidence detail and an enormous phase list still fit one section each', () => {
  const hugeDetail = '<'.repeat(10_000); // every character grows fourfold as &lt;
  const m = renderStep(step(1, { evidence: [{ probe: 'tcp', detail: hugeDetail }, { probe: 'openssh-verbose', detail: 'ssh -vvv', lines: Array.from({ length: 5000 }, () => '&'.repeat(400)) }] }));
  assertWithinLimits(m);
  const code = allTexts(m).find((t) => t.includes('```'));
  assert.ok(code !== undefined);
  assert.match(code, /more lines not shown/);
  for (const t of allTexts(m)) assertBalanced(t);
});

test('the parent and the fallback stay within limits with a hostile, enormous diagnosis', () => {
  const huge = `${HOSTILE} ${'y'.repeat(8000)}`;
  const diagnosis: Diagnosis = { ...DIAGNOSIS, summary: huge, next: Array.from({ length: 60 }, () => huge), alternatives: Array.from({ length: 30 }, () => ({ cause: 'banned' as const, step: 'bans' as const, confidence: 'low' as const })) };
  const steps = STEP_IDS.map((_, i) => step(i + 1, { summary: huge }));
  const view = finishedParent({ ...parent(), target: huge, vantage: huge }, report(steps, diagnosis));
  for (const m of [renderParent(view, [huge]), renderFallback(view, huge, inviteHint('sshcheck', false), report(steps, diagnosis))]) {
    assertWithinLimits(m);
    for (const t of allTexts(m)) assertBalanced(t);
    assert.deepEqual(findUnsafeMarkup(m, [REQUESTER]), []);
  }
});

test('hostile text from a server becomes neither a mention, a link nor formatting', () => {
  const s = step(4, {
    summary: `banner ${HOSTILE}`,
    evidence: [
      { probe: 'ssh-handshake', detail: `banner "SSH-2.0-OpenSSH_9.9 ${HOSTILE}"` },
      { probe: 'openssh-verbose', detail: 'ssh -vvv', lines: [`server identification: ${HOSTILE}`, '```', 'closing ``` fence <!here>'] },
    ],
    status: 'fail',
    manual: [{ where: 'target', command: `echo ${HOSTILE}`, why: HOSTILE }],
  });
  const m = renderStep(s);
  assert.deepEqual(findUnsafeMarkup(m, []), []);
  for (const t of allTexts(m)) {
    assertBalanced(t);
    assert.doesNotMatch(t, /<!|<@|<#|<https/);
    assert.doesNotMatch(outsideCode(t), /@everyone|\*bold\*|evil\.example/);
  }
  // What it said is still readable (escaped, in code).
  assert.match(allTexts(m).join('\n'), /`[^`]*&lt;!channel&gt;[^`]*`/);
});

test('fallback: why, how to invite the bot, the diagnosis and every step', () => {
  const view = finishedParent(nextParent(parent(), { type: 'diagnosis', diagnosis: DIAGNOSIS, elapsedMs: 90 }), report());
  const m = renderFallback(view, 'the bot is not a member of this channel (not_in_channel)', inviteHint('sshcheck', false), report());
  assertWithinLimits(m);
  const all = allTexts(m).join('\n');
  assert.match(all, /not_in_channel/);
  assert.match(all, /`\/invite @sshcheck`/);
  assert.match(all, /`port-closed`/);
  for (const id of STEP_IDS) assert.ok(all.includes(STEP_TITLES[id]), id);
  assert.match(inviteHint('sshcheck', true), /direct message/);
  assert.match(inviteHint('<!channel>', false), /\/invite @sshcheck/, 'an odd bot name falls back to the default');
  // Without a hint (Slack did not refuse the conversation) the reason stands on its own.
  const failed = renderFallback({ ...parent(), phase: 'failed', error: 'engine down' }, 'the check failed before anything was posted');
  assert.doesNotMatch(allTexts(failed).join('\n'), /invite|could not post the check/);
  assert.match(allTexts(failed).join('\n'), /The check itself failed: engine down/);
});

test('the acknowledgement, help and usage errors', () => {
  assert.equal(renderAck('sshcheck@db-3', 'bastion-eu-1').text, 'Checking `sshcheck@db-3` from bastion-eu-1…');
  const usage = renderUsage();
  assert.match(usage.text, /Usage: \/sshcheck &lt;target&gt; \[port\] \[user\]/);
  const err = renderUsageError('invalid port "<!channel>": use a number');
  assert.deepEqual(findUnsafeMarkup(err, []), []);
  assert.match(err.text, /nothing was checked/);
});

test('the report\'s own `code spans` stay code, escaped; everything around them is safeInline', () => {
  assert.equal(safeSlack('run `sudo systemctl status sshd` on the server'), 'run `sudo systemctl status sshd` on the server');
  assert.equal(safeSlack('`<!channel> *bold*` and @everyone'), '`&lt;!channel&gt; *bold*` and `@everyone`');
  assert.equal(safeSlack('x:`cmd`'), 'x: `cmd`', 'a span that touches a word is set apart');
  assert.equal(safeSlack('an `unclosed span <!here>'), 'an `ˋunclosed` span `&lt;!here&gt;`');
  for (const raw of ['empty `` and ` ` spans', '`a`b`c`', '```', '`<@U1>`', 'a ` b ` c', `\`${HOSTILE}\` ${HOSTILE}`]) {
    const out = safeSlack(raw);
    assertBalanced(out);
    assert.deepEqual(findUnsafeMarkup(out, []), [], raw);
  }
});

test('fitInline, fitCodeBlock and packTexts keep their promises', () => {
  for (const max of [1, 5, 50, 3000]) {
    for (const raw of ['<<<<<<<<<<', HOSTILE.repeat(100), 'plain words only '.repeat(400), '']) {
      const out = fitInline(raw, max);
      assert.ok(out.length <= max, `${out.length} > ${max}`);
      assertBalanced(out);
    }
  }
  const block = fitCodeBlock(Array.from({ length: 100 }, (_, i) => `line ${i} ${'<'.repeat(50)}`), 1000);
  assert.ok(block.length <= 1000);
  assert.match(block, /^```\n/);
  assert.match(block, /more lines not shown\n```$/);
  assert.deepEqual(packTexts(['a', 'b', 'c'], 3), ['a\nb', 'c']);
  const blocks: SlackBlock[] = Array.from({ length: 60 }, () => ({ type: 'divider' }));
  assert.equal(capBlocks(blocks).length, 50);
});

test('the bot mention is stripped from an @mention; other text is kept', () => {
  assert.equal(stripBotMention('<@U0SSHCHECK> db-3 2222', 'U0SSHCHECK').trim(), 'db-3 2222');
  assert.equal(stripBotMention('<@U0SSHCHECK|sshcheck> db-3', 'U0SSHCHECK').trim(), 'db-3');
  assert.equal(stripBotMention('<@U0OTHER> db-3', undefined).trim(), 'db-3');
});

test('SDK log lines lose Socket Mode tickets and token fields', () => {
  assert.equal(scrubSdkText('wss://x/link/?ticket=abc-123&app_id=A1'), 'wss://x/link/?ticket=[redacted]&app_id=A1');
  assert.equal(scrubSdkText('{"token":"legacy","text":"db-3"}'), '{"token":"[redacted]","text":"db-3"}');
});

test('Slack errors map to the chat layer: cannot-post for conversations the bot cannot use', () => {
  const platform = (error: string): Error => Object.assign(new Error(`An API error occurred: ${error}`), { code: 'slack_webapi_platform_error', data: { ok: false, error } });
  for (const code of ['not_in_channel', 'channel_not_found', 'is_archived']) {
    const e = toSurfaceError(platform(code), 'posting');
    assert.equal(e.kind, 'cannot-post', code);
    assert.equal(e.code, code);
  }
  assert.equal(toSurfaceError(platform('msg_too_long'), 'posting').kind, 'failed');
  assert.equal(toSurfaceError(new Error('socket hang up'), 'posting').kind, 'failed');
});

test('a run stopped before its verdict: the parent says so, with no verdict and no healthy mark', () => {
  const undecided: Diagnosis = {
    cause: 'undecided',
    step: null,
    confidence: 'low',
    summary: 'Stopped before a verdict: the run ended after 1.0 s because it was interrupted (SIGINT), before the evidence settled; still pending: steps 1 and 3. No cause is named, and this is not "healthy".',
    next: [],
    alternatives: [],
    stoppedBy: 'signal',
    stopDetail: 'SIGINT',
    pending: [{ step: 'connectivity', waitingFor: 'waiting for 10.0.0.5:22 to answer…' }],
  };
  const steps = STEP_IDS.map((_, i) => step(i + 1, { status: 'skip' }));
  const view = finishedParent(initialParent(parseTarget('db-3'), 'bastion-eu-1', REQUESTER), { ...report(steps, undecided), outcome: 'undecided' });
  const message = renderParent(view);
  assert.match(message.text, /Diagnosis: `?undecided`?: Stopped before a verdict/);
  const blocks = JSON.stringify(message.blocks);
  assert.match(blocks, /Stopped before a verdict/);
  assert.ok(!blocks.includes(STATUS_EMOJI.pass), 'no healthy mark');
});

test("an engine notice (a bastion's agent lost, the check resent) is shown on the parent, inert", () => {
  const notice = 'bastion eu-1 (through the broker at nats://127.0.0.1:4222): agent eu-a went silent for 3 s during the check of db-3 <!channel>: it died or lost the broker; sending the check to another agent of the bastion';
  const message = renderParent({ ...parent(), notice });
  assert.match(allTexts(message).join('\n'), /agent eu-a went silent for 3 s .*sending the check to another agent of the bastion/);
  assert.deepEqual(findUnsafeMarkup(message, [REQUESTER]), []);
});
