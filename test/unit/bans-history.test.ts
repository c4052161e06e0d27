// Step 10 with the store's history (RunOptions.history): a target that answered this bastion
// recently and now drops everything from it raises the `banned` finding one level; without
// history nothing changes. Pure: observations in, the diagnosis out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessAll } from '../../src/engine/checklist/assess.js';
import type { RunHistory } from '../../src/engine/checklist/assessment.js';
import { diagnose } from '../../src/engine/checklist/diagnose.js';
import type { Observations, PathObs } from '../../src/engine/observations.js';
import { ADDRESS, control, handshake, input, pingReply, pingSilent } from '../support/observations.js';

const RECENT: RunHistory = { lastHealthy: { at: '2026-11-24T10:02:03.456Z', ageMs: 4 * 60_000 } };

function judge(obs: Partial<Observations>, now: number, history?: RunHistory) {
  const i = { ...input(obs, now, { final: true }), ...(history ? { history } : {}) };
  const steps = assessAll(i);
  const bans = steps.find((s) => s.id === 'bans');
  assert.ok(bans);
  return { bans, ...diagnose(steps, i.target, 'bastion-1', true) };
}

const delivered: PathObs = { state: 'done', startedMs: 0, endedMs: 3000, tool: 'traceroute', address: ADDRESS, port: 22, hops: [{ ttl: 1, address: '10.77.1.1', rttMs: 0.2 }, { ttl: 2, address: null, rttMs: null }], reached: false };

test('silence with the path delivering: banned medium without history, high (the diagnosis) with a recent healthy run', () => {
  const obs = { handshakes: [handshake()], ping: pingSilent(), control: control(undefined), path: delivered };
  const plain = judge(obs, 3700);
  assert.equal(plain.diagnosis.cause, 'no-response');
  assert.equal(plain.bans.findings[0]?.confidence, 'medium');
  const recent = judge(obs, 3700, RECENT);
  assert.equal(recent.diagnosis.cause, 'banned');
  assert.equal(recent.diagnosis.confidence, 'high');
  assert.match(recent.diagnosis.summary, /and SSH to it worked from this bastion 4 min ago \(2026-11-24T10:02:03Z\): a ban of this bastion/);
  assert.ok(recent.diagnosis.alternatives.some((a) => a.cause === 'no-response'));
  assert.ok(recent.bans.evidence.some((e) => e.probe === 'engine' && e.detail === 'history: SSH to it worked from this bastion 4 min ago (2026-11-24T10:02:03Z)'));
});

test('silence without a path: banned low without history, medium with it (no-response stays first)', () => {
  const obs = { handshakes: [handshake()], ping: pingSilent(), control: control(undefined) };
  assert.equal(judge(obs, 3700).bans.findings[0]?.confidence, 'low');
  const recent = judge(obs, 3700, RECENT);
  assert.equal(recent.bans.findings[0]?.confidence, 'medium');
  assert.equal(recent.diagnosis.cause, 'no-response');
  assert.deepEqual(recent.diagnosis.alternatives.find((a) => a.cause === 'banned'), { cause: 'banned', step: 'bans', confidence: 'medium' });
});

test('SYNs dropped while the host answers ping: port-filtered stays first, banned rises from low to medium', () => {
  const obs = { handshakes: [handshake()], ping: pingReply(), control: control('refused') };
  const plain = judge(obs, 1250);
  assert.equal(plain.diagnosis.cause, 'port-filtered');
  assert.deepEqual(plain.diagnosis.alternatives.find((a) => a.cause === 'banned')?.confidence, 'low');
  const recent = judge(obs, 1250, RECENT);
  assert.equal(recent.diagnosis.cause, 'port-filtered');
  assert.deepEqual(recent.diagnosis.alternatives.find((a) => a.cause === 'banned')?.confidence, 'medium');
  assert.match(recent.bans.summary, /SSH to it worked from this bastion 4 min ago/);
});

test('while still waiting, a step with history may yet say high: the diagnosis does not settle early', () => {
  const obs = { handshakes: [handshake()], ping: pingSilent(), control: control(undefined) };
  const i = { ...input(obs, 100), history: RECENT };
  const bans = assessAll(i).find((s) => s.id === 'bans');
  assert.equal(bans?.status, 'running');
  assert.equal(bans?.ceiling, 'high');
});
