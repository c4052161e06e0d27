// The engine's run() on loopback: the progress-event contract, the budget and abort. No DNS
// leaves the machine: the resolver list points at a loopback port where nothing listens.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/engine/run.js';
import type { RunOptions } from '../../src/engine/run.js';
import { parseTarget } from '../../src/target.js';
import type { ProgressEvent } from '../../src/engine/report.js';
import { STEP_IDS } from '../../src/engine/report.js';

let dir: string;
let resolvConf: string;
let silent: Server;
let silentPort: number;
const held: Socket[] = [];
let closedPort: number;

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sshcheck-engine-'));
  resolvConf = join(dir, 'resolv.conf');
  writeFileSync(resolvConf, 'nameserver 127.0.0.1\n');
  // A service that accepts and never speaks.
  silent = createServer((s) => {
    held.push(s);
    s.on('error', () => undefined);
  });
  silentPort = await listen(silent);
  const probe = createServer();
  closedPort = await listen(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

after(() => {
  for (const s of held) s.destroy();
  silent.close();
  rmSync(dir, { recursive: true, force: true });
});

function options(extra: Partial<RunOptions> = {}): RunOptions {
  // dnsPort: a loopback port nobody listens on, so reverse lookups fail at once, locally.
  return { vantage: 'test-bastion', resolvConfPath: resolvConf, dnsPort: closedPort, extrasMs: 0, ...extra };
}

test('events: run-started, ten running steps, one diagnosis before run-finished, steps final', async () => {
  const events: ProgressEvent[] = [];
  const report = await run(parseTarget(`127.0.0.1:${closedPort}`), options({ onEvent: (e) => events.push(e) }));
  assert.equal(events[0]?.type, 'run-started');
  const running = events.slice(1, 11);
  assert.deepEqual(running.map((e) => (e.type === 'step-updated' ? `${e.step.id}:${e.step.status}` : e.type)), STEP_IDS.map((id) => `${id}:running`));
  const diagnoses = events.filter((e) => e.type === 'diagnosis');
  assert.equal(diagnoses.length, 1);
  const last = events[events.length - 1];
  assert.equal(last?.type, 'run-finished');
  assert.ok(events.indexOf(diagnoses[0]!) < events.length - 1);
  assert.equal(report.diagnosis.cause, 'port-closed');
  if (last?.type === 'run-finished') assert.deepEqual(last.report, report);
  // The last update of each step is the step in the report.
  for (const step of report.steps) {
    const updates = events.filter((e): e is Extract<ProgressEvent, { type: 'step-updated' }> => e.type === 'step-updated' && e.step.id === step.id);
    assert.deepEqual(updates[updates.length - 1]?.step, step);
  }
  assert.equal(report.schema, 'sshcheck/report@1');
  assert.equal(report.vantage.name, 'test-bastion');
  assert.deepEqual(report.target.addresses, ['127.0.0.1']);
  assert.ok(report.diagnosedMs <= report.durationMs);
  for (let i = 1; i < events.length; i++) assert.ok(events[i]!.elapsedMs >= events[i - 1]!.elapsedMs, 'elapsed time never goes back');
});

test('a budget spent before the banner wait is over ends undecided, listing what was pending, never a verdict', async () => {
  const started = performance.now();
  const events: ProgressEvent[] = [];
  const report = await run(parseTarget(`127.0.0.1:${silentPort}`), options({ budgetMs: 2000, onEvent: (e) => events.push(e) }));
  const took = performance.now() - started;
  assert.ok(report.durationMs <= 2000, `report says ${report.durationMs} ms`);
  assert.ok(took < 2600, `run took ${Math.round(took)} ms`);
  // No banner in 2 s is not yet a banner timeout (8 s; libwrap closes at 5 s): no verdict.
  assert.equal(report.diagnosis.cause, 'undecided');
  assert.equal(report.outcome, 'undecided');
  assert.equal(report.diagnosis.step, null);
  assert.equal(report.diagnosis.stoppedBy, 'budget');
  assert.ok(report.diagnosis.pending?.some((p) => p.step === 'sshd'), JSON.stringify(report.diagnosis.pending));
  assert.match(report.diagnosis.summary, /^Stopped before a verdict/);
  assert.ok(!report.diagnosis.alternatives.some((a) => a.cause === 'banner-timeout' && a.confidence !== 'low'), JSON.stringify(report.diagnosis.alternatives));
  const sshd = report.steps.find((s) => s.id === 'sshd');
  assert.equal(sshd?.status, 'skip');
  assert.equal(report.steps.length, 10);
  // The diagnosis event says the same, once.
  const diagnoses = events.filter((e) => e.type === 'diagnosis');
  assert.equal(diagnoses.length, 1);
  assert.equal(diagnoses[0]?.type === 'diagnosis' ? diagnoses[0].diagnosis.cause : undefined, 'undecided');
});

test('an abort ends the run at once with a complete report that says it is undecided and why', async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 200);
  const started = performance.now();
  const report = await run(parseTarget(`127.0.0.1:${silentPort}`), options({ signal: controller.signal }));
  assert.ok(performance.now() - started < 1500);
  assert.equal(report.steps.length, 10);
  assert.ok(report.steps.every((s) => ['pass', 'warn', 'fail', 'skip'].includes(s.status)));
  assert.equal(report.diagnosis.cause, 'undecided');
  assert.equal(report.diagnosis.stoppedBy, 'abort');
});

test('a signal named as the abort reason is reported as such; a settled diagnosis is not undone by a late abort', async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort('SIGINT'), 200);
  const report = await run(parseTarget(`127.0.0.1:${silentPort}`), options({ signal: controller.signal }));
  assert.equal(report.diagnosis.cause, 'undecided');
  assert.equal(report.diagnosis.stoppedBy, 'signal');
  assert.equal(report.diagnosis.stopDetail, 'SIGINT');
  assert.ok(!report.steps.some((s) => s.status === 'pass' && s.id === 'sshd'));

  // A reset settles at once; an abort during the extras keeps the verdict.
  const late = new AbortController();
  const diagnosed = await run(parseTarget(`127.0.0.1:${closedPort}`), options({ extrasMs: 5000, signal: late.signal, onEvent: (e) => (e.type === 'diagnosis' ? late.abort('SIGINT') : undefined) }));
  assert.equal(diagnosed.diagnosis.cause, 'port-closed');
  assert.equal(diagnosed.outcome, 'diagnosed');
});

test('a probe that throws becomes an observation with the reason, and the log has it', async () => {
  const logged: string[] = [];
  const report = await run(
    parseTarget(`127.0.0.1:${closedPort}`),
    options({
      log: (message) => logged.push(message),
      // Child probes start one by one after the in-process ones (child-queue.ts): give them the time to.
      extrasMs: 5000,
      probes: {
        ping: () => Promise.reject(new Error('ping exploded')),
        path: () => {
          throw new TypeError('path exploded');
        },
      },
    }),
  );
  assert.equal(report.diagnosis.cause, 'port-closed');
  const connectivity = report.steps.find((s) => s.id === 'connectivity');
  assert.ok(connectivity?.evidence.some((e) => /ping could not run: the ping probe failed: ping exploded/.test(e.detail)), JSON.stringify(connectivity?.evidence));
  assert.ok(logged.some((l) => /the ping probe failed: ping exploded/.test(l)), logged.join('\n'));
  // A probe that throws before it returns a promise is caught the same way.
  assert.ok(logged.some((l) => /the path probe failed: path exploded/.test(l)), logged.join('\n'));
});

test('a handshake probe that throws ends the run undecided as an engine error, with a report', async () => {
  const logged: string[] = [];
  const report = await run(
    parseTarget(`127.0.0.1:${closedPort}`),
    options({ log: (message) => logged.push(message), probes: { handshake: () => Promise.reject(new Error('handshake exploded')) } }),
  );
  assert.equal(report.diagnosis.cause, 'undecided');
  assert.equal(report.diagnosis.stoppedBy, 'engine-error');
  assert.match(report.diagnosis.stopDetail ?? '', /the ssh-handshake probe failed: handshake exploded/);
  assert.equal(report.steps.length, 10);
  assert.ok(logged.some((l) => /handshake exploded/.test(l)));
});
