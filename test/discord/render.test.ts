// render.ts is pure: views and reports in, embeds out. These tests hold it to Discord's
// limits whatever the evidence holds, and to "no live markup from report text".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { APIEmbed } from 'discord.js';
import {
  EMBED_LIMITS,
  codeBlockWithin,
  embedLength,
  inlineWithin,
  messageLength,
  packMessages,
  renderChecklist,
  renderParent,
  renderStep,
  renderUsageError,
} from '../../adapters/discord/render.js';
import { STEP_IDS, STEP_TITLES, stepNumber } from '../../src/engine/report.js';
import type { Diagnosis, Evidence, StepReport } from '../../src/engine/report.js';
import { initialParent } from '../../src/chat/views.js';
import type { ParentView } from '../../src/chat/views.js';
import { parseTarget } from '../../src/target.js';
import { messageProblems } from './fake-discord.js';
import type { Json, JsonObject } from './fake-discord.js';
import { liveMarkup, strings } from './markup.js';

const HOSTILE = 'SSH-2.0-OpenSSH_9.9 @everyone <@123456789012345678> [click](https://evil.example) **bold** `tick` __u__ ~~s~~ ||spoiler|| # heading';

function step(overrides: Partial<StepReport> = {}): StepReport {
  return {
    id: 'sshd',
    n: 4,
    title: STEP_TITLES.sshd,
    status: 'fail',
    summary: 'nothing listens on 127.0.0.1:22',
    evidence: [{ probe: 'tcp', detail: '127.0.0.1:22: TCP reset in 0.1 ms' }],
    durationMs: 21,
    manual: [{ command: 'sudo systemctl status sshd', where: 'target', why: 'is sshd running?' }],
    ...overrides,
  };
}

function asJson(embeds: APIEmbed[]): JsonObject {
  return { embeds: embeds as unknown as Json[] };
}

function assertWithinLimits(embeds: APIEmbed[]): void {
  assert.deepEqual(messageProblems(asJson(embeds)), []);
  assert.ok(messageLength(embeds) <= EMBED_LIMITS.total);
}

function assertNoLiveMarkup(embeds: APIEmbed[], allowed: string[] = []): void {
  for (const s of strings(asJson(embeds))) assert.deepEqual(liveMarkup(s, allowed), []);
}

test('inlineWithin: clips the plain text before marking it up, never past the limit', () => {
  for (const max of [5, 20, 64, 100, 1024]) {
    const out = inlineWithin(`${HOSTILE} `.repeat(40), max);
    assert.ok(out.length <= max, `${out.length} > ${max}`);
    assert.deepEqual(liveMarkup(out), [], out);
  }
  assert.equal(inlineWithin('plain words stay plain', 100), 'plain words stay plain');
});

test('codeBlockWithin: keeps the first and the last lines when they do not all fit', () => {
  const lines = Array.from({ length: 200 }, (_, i) => `+${i} ms     debug line ${i} ${'x'.repeat(40)}`);
  lines.push('(no further output after: connecting to db-3 [10.0.0.5] port 22)');
  const block = codeBlockWithin(lines, 1000);
  assert.ok(block.length <= 1000);
  assert.match(block, /^```\n\+0 ms/);
  assert.match(block, /… \d+ more lines …/);
  assert.match(block, /no further output after: connecting to db-3 \[10\.0\.0\.5\] port 22\)\n```$/);
  assert.equal(codeBlockWithin(['a', 'b'], 1000), '```\na\nb\n```');
});

test('renderStep: status emoji, summary, evidence fields, manual commands for non-pass steps', () => {
  const embed = renderStep(step());
  assert.equal(embed.title, '❌ 4. The SSH daemon');
  assert.equal(embed.description, 'nothing listens on 127.0.0.1:22');
  assert.deepEqual(embed.fields?.map((f) => f.name), ['TCP', 'By hand on the target']);
  assert.equal(embed.fields?.[1]?.value, '```\nsudo systemctl status sshd\n```\nis sshd running?');
  // A passing step shows no manual commands.
  assert.deepEqual(renderStep(step({ status: 'pass' })).fields?.map((f) => f.name), ['TCP']);
});

test('renderStep: the ssh -vvv phase list is a code block', () => {
  const embed = renderStep(
    step({ id: 'verbose', n: 2, evidence: [{ probe: 'openssh-verbose', detail: 'ssh -vvv stopped at connecting', lines: ['+0 ms     ssh started (OpenSSH_9.2p1)', '+1 ms     connecting to db-3 [10.0.0.5] port 22'] }] }),
  );
  assert.equal(embed.fields?.[0]?.name, 'ssh -vvv');
  assert.match(embed.fields?.[0]?.value ?? '', /\n```\n\+0 ms {5}ssh started \(OpenSSH_9\.2p1\)\n\+1 ms {5}connecting to db-3 \[10\.0\.0\.5\] port 22\n```$/);
});

test('renderStep: evidence beyond 25 fields, 1024 per value and 6000 in all still fits', () => {
  const huge: Evidence[] = Array.from({ length: 60 }, (_, i) => ({
    probe: i % 3 === 0 ? 'openssh-verbose' : 'tcp',
    detail: `${i}: ${HOSTILE} ${'detail '.repeat(300)}`,
    ...(i % 3 === 0 ? { lines: Array.from({ length: 80 }, (_, j) => `+${j} ms ${HOSTILE}`) } : {}),
  }));
  const manual = Array.from({ length: 9 }, (_, i) => ({ command: `sudo check-${i} ${'--flag '.repeat(200)}`, where: 'target' as const, why: `${HOSTILE} `.repeat(20) }));
  const embed = renderStep(step({ summary: `${HOSTILE} `.repeat(200), evidence: huge, manual }));
  assertWithinLimits([embed]);
  assert.ok((embed.fields?.length ?? 0) <= 25);
  for (const f of embed.fields ?? []) assert.ok(f.value.length <= 1024 && f.name.length <= 256);
  const overflow = embed.fields?.at(-1);
  assert.match(overflow?.name ?? '', /^\d+ more pieces of evidence$/);
  const shown = (embed.fields ?? []).filter((f) => f.name === 'TCP' || f.name === 'ssh -vvv').length;
  assert.equal(Number(/^(\d+)/.exec(overflow?.name ?? '')?.[1]) + shown, 60, 'every piece is either shown or counted');
  assertNoLiveMarkup([embed]);

  // 30 short pieces: the field count is the limit, not the characters.
  const many = renderStep(step({ evidence: Array.from({ length: 30 }, (_, i) => ({ probe: 'tcp', detail: `try ${i}` })), manual: [] }));
  assert.equal(many.fields?.length, 25);
  assert.equal(many.fields?.[24]?.name, '6 more pieces of evidence');
});

test('renderStep: hostile server text cannot mention, link or format', () => {
  const embed = renderStep(step({ summary: `banner ${HOSTILE}`, evidence: [{ probe: 'ssh-handshake', detail: `banner "${HOSTILE}"`, lines: [HOSTILE, '```', 'after the fence @here'] }] }));
  assertNoLiveMarkup([embed]);
  const text = strings(asJson([embed])).join('\n');
  assert.ok(text.includes('@everyone') && text.includes('<@123456789012345678>'), 'the text is shown, as code');
  // A fence inside the lines cannot close the code block early.
  assert.doesNotMatch(embed.fields?.[0]?.value ?? '', /\n```\n```\n/);
});

const diagnosis: Diagnosis = {
  cause: 'port-closed',
  step: 'sshd',
  confidence: 'high',
  summary: 'TCP reset: nothing listens on 127.0.0.1:22',
  next: ['start sshd: `sudo systemctl start ssh`', HOSTILE],
  alternatives: [{ cause: 'port-rejected', step: 'firewall', confidence: 'low' }],
};

function parent(overrides: Partial<ParentView> = {}): ParentView {
  return { ...initialParent(parseTarget('ops@db-3.example.com:2222'), 'bastion-eu-1', '<@987654321098765432>'), ...overrides };
}

test('renderParent: target, bastion, requester and status while running', () => {
  const embed = renderParent(parent());
  assert.deepEqual(
    embed.fields?.map((f) => [f.name, f.value]),
    [
      ['Target', '`ops@db-3.example.com:2222`'],
      ['Bastion', 'bastion-eu-1'],
      ['Requested by', '<@987654321098765432>'],
      ['Status', '⏳⏳⏳⏳⏳⏳⏳⏳⏳⏳ probing'],
    ],
  );
  assert.equal(embed.title, 'sshcheck `ops@db-3.example.com:2222`');
  assertNoLiveMarkup([embed], ['<@987654321098765432>']);
});

test('renderParent: the diagnosis as soon as it is settled, the ten statuses at the end', () => {
  const diagnosed = renderParent(parent({ phase: 'diagnosed', diagnosis, elapsedMs: 25 }));
  assert.match(diagnosed.description ?? '', /^❌ port-closed \(sshd, high confidence\)\nTCP reset: nothing listens on 127\.0\.0\.1:22$/);
  assert.ok(diagnosed.fields?.some((f) => f.name === 'Next' && f.value.startsWith('• start sshd: `sudo systemctl start ssh`')));
  assert.ok(diagnosed.fields?.some((f) => f.name === 'Also possible'));
  assert.ok(!diagnosed.fields?.some((f) => f.name === 'Checklist'));
  const statuses = ['pass', 'warn', 'pass', 'fail', 'pass', 'skip', 'skip', 'skip', 'skip', 'pass'] as const;
  const steps = STEP_IDS.map((id, i) => ({ id, n: stepNumber(id), title: STEP_TITLES[id], status: statuses[i] ?? 'pass' }));
  const finished = renderParent(parent({ phase: 'finished', diagnosis, elapsedMs: 1200, steps }));
  assert.match(finished.fields?.find((f) => f.name === 'Status')?.value ?? '', /^✅⚠️✅❌✅⏭️⏭️⏭️⏭️✅ finished in 1\.2 s$/);
  const checklist = finished.fields?.find((f) => f.name === 'Checklist')?.value.split('\n') ?? [];
  assert.equal(checklist.length, 10);
  assert.equal(checklist[3], '❌ 4. The SSH daemon');
  assertNoLiveMarkup([finished], ['<@987654321098765432>']);
  assertWithinLimits([finished]);
});

test('renderParent: a requester that is not a plain mention is shown as text', () => {
  const embed = renderParent(parent({ requester: '@everyone' }));
  assert.equal(embed.fields?.find((f) => f.name === 'Requested by')?.value, '`@everyone`');
});

test('renderParent: the reason for a missing thread, and an engine failure', () => {
  const withNote = renderParent(parent(), { note: 'Threads cannot be started in direct messages; the checklist follows below when the run finishes.' });
  assert.match(withNote.fields?.at(-1)?.value ?? '', /direct messages/);
  const failed = renderParent(parent({ phase: 'failed', error: `engine blew up: ${HOSTILE}` }));
  assert.match(failed.description ?? '', /^❌ The check itself failed: engine blew /);
  assertNoLiveMarkup([failed], ['<@987654321098765432>']);
});

test('renderParent: an enormous diagnosis still fits', () => {
  const big: Diagnosis = { ...diagnosis, summary: `${HOSTILE} `.repeat(300), next: Array.from({ length: 50 }, () => `${HOSTILE} `.repeat(10)), alternatives: Array.from({ length: 40 }, () => diagnosis.alternatives[0]!) };
  const embed = renderParent(parent({ phase: 'finished', diagnosis: big }), { note: `${HOSTILE} `.repeat(100) });
  assertWithinLimits([embed]);
  assertNoLiveMarkup([embed], ['<@987654321098765432>']);
});

test('packMessages: at most ten embeds and 6000 characters per message, in order', () => {
  const steps = STEP_IDS.map((id) =>
    step({ id, n: stepNumber(id), title: STEP_TITLES[id], evidence: Array.from({ length: 10 }, (_, i) => ({ probe: 'tcp' as const, detail: `${id} ${i} ${'x'.repeat(700)}` })) }),
  );
  const embeds = renderChecklist(steps);
  const messages = packMessages(embeds);
  assert.ok(messages.length > 1);
  for (const m of messages) {
    assert.ok(m.length <= 10);
    assertWithinLimits(m);
  }
  assert.deepEqual(messages.flat(), embeds);
  // Small steps share one message.
  assert.equal(packMessages(renderChecklist(STEP_IDS.map((id) => step({ id, n: stepNumber(id) })))).length, 1);
  assert.ok(embeds.every((e) => embedLength(e) <= EMBED_LIMITS.total));
});

test('renderUsageError: says nothing was probed, safely, within the content limit', () => {
  const text = renderUsageError(`target "${HOSTILE}" starts with "-": a target can never be an option`);
  assert.match(text, /^❌ Nothing was probed: /);
  assert.ok(text.length <= EMBED_LIMITS.content);
  assert.deepEqual(liveMarkup(text), []);
});

test("renderParent: an engine notice (a bastion's agent lost, the check resent) is a field of its own, inert", () => {
  const notice = 'bastion eu-1 (through the broker at nats://127.0.0.1:4222): agent eu-a went silent for 3 s during the check of db-3 @everyone: it died or lost the broker; sending the check to another agent of the bastion';
  const embed = renderParent({ ...parent(), notice });
  const field = embed.fields?.find((f) => f.name === 'Engine');
  assert.match(field?.value ?? '', /agent eu-a went silent for 3 s .*sending the check to another agent of the bastion/);
  assertWithinLimits([embed]);
  assertNoLiveMarkup([embed], ['<@987654321098765432>']);
});
