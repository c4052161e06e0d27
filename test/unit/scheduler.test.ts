// The probe scheduler on its own (src/engine/scheduler.ts): fake probes that record when they
// start and stay pending until the test answers for them, and a clock the test moves. What is
// asserted is order and cause (which observation started what), never how long anything took:
// the child queue runs on real timers, and a test waits for it by condition, not by time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Observations } from '../../src/engine/observations.js';
import type { Probes, ScheduleOptions } from '../../src/engine/scheduler.js';
import { LIGHT_GRACE_MS, ProbeScheduler } from '../../src/engine/scheduler.js';
import { CHILD_RANK } from '../../src/engine/child-queue.js';
import { RunConnections, perRunLimit } from '../../src/engine/connection-budget.js';
import { DEFAULT_THRESHOLDS } from '../../src/engine/checklist/thresholds.js';
import type { DnsObs, DnsQueryObs, HandshakeObs, SystemResolveObs } from '../../src/engine/observations.js';
import { defaultPolicy, PolicyError } from '../../src/policy/target-policy.js';
import { parseTarget } from '../../src/target.js';
import { ADDRESS, completeHandshake, handshake } from '../support/observations.js';

type ProbeName = keyof Probes;

/** One start of a fake probe: what it was given, and the test's hands on its outcome. */
interface Call {
  name: ProbeName;
  opts: Record<string, unknown>;
  update: (snapshot: unknown) => void;
  finish: (observation: unknown) => void;
  fail: (err: Error) => void;
}

const CHILDREN: readonly ProbeName[] = ['resolve', 'mtu', 'verbose', 'ping', 'inside', 'sshConfig', 'path'];

interface Harness {
  scheduler: ProbeScheduler;
  obs: Observations;
  calls: Call[];
  logged: string[];
  /** How often the scheduler said an observation changed. */
  changes: () => number;
  setNow: (ms: number) => void;
  started: () => ProbeName[];
  call: (name: ProbeName) => Call;
}

function harness(host: string, options: ScheduleOptions = {}, replace: Partial<Probes> = {}, budgetMs = 15_000): Harness {
  let now = 0;
  let changes = 0;
  const calls: Call[] = [];
  const logged: string[] = [];
  const fake = (name: ProbeName): Probes[ProbeName] => {
    const probe = (opts: Record<string, unknown>, _ctx: unknown, onUpdate?: (snapshot: unknown) => void): Promise<unknown> =>
      new Promise((resolve, reject) => calls.push({ name, opts, update: (s) => onUpdate?.(s), finish: resolve, fail: reject }));
    return probe as unknown as Probes[ProbeName];
  };
  const probes = Object.fromEntries((['dns', 'ptr', 'resolve', 'handshake', 'verbose', 'sshConfig', 'ping', 'mtu', 'path', 'tcp', 'inside'] as const).map((n) => [n, fake(n)])) as unknown as Probes;
  const target = parseTarget(host);
  const obs: Observations = { ptr: [], handshakes: [] };
  if (!options.config) obs.inside = { state: 'none', reason: 'no diagnostics login is configured (see the engine config)' };
  const scheduler = new ProbeScheduler({
    target,
    obs,
    probes: { ...probes, ...replace },
    clock: () => now,
    signal: new AbortController().signal,
    budgetMs,
    deadlineMs: budgetMs - 150,
    thresholds: { ...DEFAULT_THRESHOLDS },
    connections: new RunConnections(perRunLimit((options.config?.diagnostics.length ?? 0) > 0)),
    configuredResolvers: ['127.0.0.53'],
    options,
    changed: () => (changes += 1),
    log: (message) => logged.push(message),
  });
  return {
    scheduler,
    obs,
    calls,
    logged,
    changes: () => changes,
    setNow: (ms) => (now = ms),
    started: () => calls.map((c) => c.name),
    call: (name) => {
      const found = calls.find((c) => c.name === name);
      assert.ok(found, `${name} started (started: ${calls.map((c) => c.name).join(', ')})`);
      return found;
    },
  };
}

/** Waits, by condition, for what the child queue does on its own timers. */
async function until(what: string, done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 5000; turn++) {
    if (done()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.fail(`never happened: ${what}`);
}

/** Lets the child queue take many turns (it re-checks a hold every few ms). */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 1));
}

function answer(name: string, address: string): DnsQueryObs {
  return { server: '127.0.0.53', name, type: 'A', outcome: 'answer', answers: [address], latencyMs: 1 };
}

function dnsDone(name: string, addresses: string[]): DnsObs {
  return { state: 'done', startedMs: 0, endedMs: 2, resolvers: ['127.0.0.53'], search: [], ndots: 1, candidates: [name], queries: addresses.map((a) => answer(name, a)) };
}

function resolved(name: string, addresses: string[]): SystemResolveObs {
  return { state: 'done', startedMs: 0, endedMs: 3, name, addresses };
}

function connectedSilent(atMs: number): HandshakeObs {
  return handshake({ tcp: { outcome: 'connected', atMs, localAddress: '10.0.0.2' } });
}

test('an address: the handshake, the control port and the reverse lookup go first; children follow one by one, most awaited first', async () => {
  const h = harness(ADDRESS);
  h.scheduler.start();
  // In-process probes are on the wire in the same turn; no child process has started yet.
  assert.deepEqual(h.started(), ['handshake', 'tcp', 'ptr']);
  assert.equal(h.scheduler.counts().waiting, 3);
  assert.equal(h.scheduler.idle(), false);
  await until('the three children started', () => h.scheduler.counts().waiting === 0);
  // Queued as ssh -G, ssh -vvv, ping; started by rank.
  assert.deepEqual(h.started(), ['handshake', 'tcp', 'ptr', 'verbose', 'ping', 'sshConfig']);
  assert.ok(CHILD_RANK.verbose < CHILD_RANK.ping && CHILD_RANK.ping < CHILD_RANK.sshConfig);
  assert.equal(h.call('verbose').opts.host, ADDRESS);
  assert.equal(h.call('ping').opts.address, ADDRESS);
  for (const c of h.calls) c.finish(undefined);
  await h.scheduler.settled();
  assert.equal(h.scheduler.idle(), true);
});

test('a name: DNS goes out at once; no child starts while the DNS probe runs, for at most dnsDeadAfterMs', async () => {
  const h = harness('db.example');
  h.scheduler.start();
  assert.deepEqual(h.started(), ['dns']);
  // The clock stands still: however many turns the queue takes, the hold stays.
  await turns();
  assert.deepEqual(h.started(), ['dns']);
  // A first answer while other queries are out keeps it: a spawn now would hold their
  // answers (and a verdict they settle) back for tens of ms.
  h.call('dns').update({ ...dnsDone('db.example.', ['10.0.0.7']), state: 'running' });
  await turns();
  assert.deepEqual(h.started(), ['dns']);
  // The probe done lifts the hold: getaddrinfo first (rank 0), then ssh -vvv, ssh -G.
  h.call('dns').finish(dnsDone('db.example.', ['10.0.0.7']));
  await until('the children started', () => h.scheduler.counts().waiting === 0);
  assert.deepEqual(h.started(), ['dns', 'resolve', 'verbose', 'sshConfig']);
  // Without getaddrinfo's answer and before dnsDeadAfterMs, DNS's own address is not probed yet.
  assert.equal(h.obs.handshakes.length, 0);

  // dnsDeadAfterMs of a running probe (silent, or some resolver still out) lifts the hold too.
  const silent = harness('db.example');
  silent.scheduler.start();
  await turns();
  assert.deepEqual(silent.started(), ['dns']);
  silent.setNow(DEFAULT_THRESHOLDS.dnsDeadAfterMs);
  await until('the children started after the silence', () => silent.scheduler.counts().waiting === 0);
  assert.equal(silent.started()[1], 'resolve');
});

test('getaddrinfo decides the first address: its first is probed with ping and the control port, DNS-only addresses without', async () => {
  const h = harness('db.example');
  h.scheduler.start();
  h.call('dns').finish(dnsDone('db.example.', ['10.0.0.7', '10.0.0.9']));
  await until('getaddrinfo started', () => h.started().includes('resolve'));
  h.call('resolve').finish(resolved('db.example', ['10.0.0.9']));
  await until('the handshakes started', () => h.obs.handshakes.length === 2);
  assert.deepEqual(
    h.calls.filter((c) => c.name === 'handshake').map((c) => c.opts.address),
    ['10.0.0.9', '10.0.0.7'],
  );
  await until('ping started', () => h.started().includes('ping'));
  assert.equal(h.call('ping').opts.address, '10.0.0.9');
  assert.equal(h.calls.filter((c) => c.name === 'tcp').length, 1);
});

test('a light run whose handshake reaches authentication starts no child and no control port; ssh -vvv says it was skipped', async () => {
  const h = harness(ADDRESS, { light: true });
  h.scheduler.start();
  assert.deepEqual(h.started(), ['handshake', 'ptr']);
  assert.equal(h.scheduler.counts().waiting, 0);
  h.setNow(12);
  h.call('handshake').update(completeHandshake());
  h.scheduler.step();
  assert.match(h.obs.verbose?.unavailable ?? '', /^skipped in a fleet check: the in-process handshake reached authentication/);
  assert.equal(h.scheduler.counts().waiting, 0);
  // Long after the grace, still nothing: the extras were dropped, not deferred.
  h.setNow(LIGHT_GRACE_MS * 4);
  h.scheduler.step();
  await turns();
  // The reverse lookups (the target's, then the bastion's once its address is known) are in-process.
  assert.deepEqual(h.started(), ['handshake', 'ptr', 'ptr']);
});

test('a light run starts the extras when the handshake ends short, or makes no progress for LIGHT_GRACE_MS', async () => {
  const short = harness(ADDRESS, { light: true });
  short.scheduler.start();
  short.setNow(3);
  short.call('handshake').update(handshake({ state: 'done', tcp: { outcome: 'refused', atMs: 2 }, end: { kind: 'refused', phase: 'connect', atMs: 2, detail: 'ECONNREFUSED' } }));
  short.scheduler.step();
  // The control port is in-process: it starts in this step; ssh -vvv, ping, ssh -G and the path trace queue.
  assert.deepEqual(short.started(), ['handshake', 'ptr', 'tcp']);
  assert.equal(short.scheduler.counts().waiting, 4);
  await until('the extras started', () => short.scheduler.counts().waiting === 0);
  assert.deepEqual(short.started().slice(3), ['verbose', 'ping', 'sshConfig', 'path']);

  const stalled = harness(ADDRESS, { light: true });
  stalled.scheduler.start();
  stalled.call('handshake').update(handshake({ tcp: { outcome: 'connected', atMs: 1 } }));
  stalled.setNow(1 + LIGHT_GRACE_MS - 1);
  stalled.scheduler.step();
  assert.ok(!stalled.started().includes('tcp'), 'still inside the grace');
  stalled.setNow(1 + LIGHT_GRACE_MS);
  stalled.scheduler.step();
  assert.ok(stalled.started().includes('tcp'), 'the grace is over');
  await until('ssh -vvv started', () => stalled.started().includes('verbose'));
});

test('the MTU sweep starts only when TCP connected and nothing at all came back for mtuSweepNoBannerMs, and only if it can finish in time', async () => {
  const th = DEFAULT_THRESHOLDS;
  const h = harness(ADDRESS);
  h.scheduler.start();
  h.call('handshake').update(connectedSilent(10));
  h.setNow(10 + th.mtuSweepNoBannerMs - 1);
  h.scheduler.step();
  const queued = h.scheduler.counts().waiting;
  h.setNow(10 + th.mtuSweepNoBannerMs);
  h.scheduler.step();
  assert.equal(h.scheduler.counts().waiting, queued + 1, 'the sweep queued');
  await until('the queue drained', () => h.scheduler.counts().waiting === 0);
  assert.equal(h.call('mtu').opts.address, ADDRESS);
  // Ahead of the path trace, although queued after it.
  assert.ok(h.started().indexOf('mtu') < h.started().indexOf('path'));
  // Once is enough.
  h.scheduler.step();
  assert.equal(h.calls.filter((c) => c.name === 'mtu').length, 1);

  // A peer that sends bytes (no banner) reaches us: no sweep.
  const talking = harness(ADDRESS);
  talking.scheduler.start();
  talking.call('handshake').update({ ...connectedSilent(10), bytesIn: 40 });
  talking.setNow(10 + th.mtuSweepNoBannerMs * 3);
  talking.scheduler.step();
  await until('the queue drained', () => talking.scheduler.counts().waiting === 0);
  assert.ok(!talking.started().includes('mtu'));

  // Too close to the deadline: a sweep that cannot finish would only hold up the end.
  const late = harness(ADDRESS, {}, {}, 2000);
  late.scheduler.start();
  late.call('handshake').update(connectedSilent(10));
  late.setNow(1000);
  late.scheduler.step();
  await until('the queue drained', () => late.scheduler.counts().waiting === 0);
  assert.ok(!late.started().includes('mtu'));
});

test('the inside login waits for the handshake (and for ssh -vvv a moment), then starts once', async () => {
  const config = { diagnostics: [{ match: ['10.0.0.0/8'], user: 'diag', key: '/nonexistent/key', knownHosts: '/nonexistent/known_hosts', sudo: false }] };
  const h = harness(ADDRESS, { config });
  h.scheduler.start();
  h.scheduler.step();
  assert.deepEqual(h.obs.inside, { state: 'planned', user: 'diag' });
  await until('ssh -vvv started', () => h.started().includes('verbose'));
  h.setNow(20);
  h.call('handshake').update(completeHandshake(1, 2));
  h.scheduler.step();
  // ssh -vvv is still connecting to the same sshd: the login waits for it, up to a second.
  assert.equal(h.obs.inside?.state, 'planned');
  h.call('verbose').finish({ state: 'done', startedMs: 5, endedMs: 21, command: ['ssh'], lines: [], parsed: { phases: [] }, exitCode: 255 });
  await until('ssh -vvv ended', () => h.obs.verbose?.state === 'done');
  h.scheduler.step();
  assert.equal(h.obs.inside?.state, 'running');
  await until('the login started', () => h.started().includes('inside'));
  const inside = h.call('inside');
  assert.equal(inside.opts.address, ADDRESS);
  assert.equal(inside.opts.hostKeyAlias, ADDRESS);
  h.scheduler.step();
  assert.equal(h.calls.filter((c) => c.name === 'inside').length, 1);
});

test('under a policy, a name that resolves outside it is refused after both lookups: nothing touches the target', async () => {
  const h = harness('db.example', { policy: defaultPolicy() });
  h.scheduler.start();
  h.call('dns').finish(dnsDone('db.example.', ['10.0.0.7']));
  await until('getaddrinfo started', () => h.started().includes('resolve'));
  assert.equal(h.scheduler.policyError, undefined, 'not judged before getaddrinfo answered');
  const before = h.changes();
  h.call('resolve').finish(resolved('db.example', ['127.0.0.1']));
  await until('the refusal', () => h.scheduler.policyError !== undefined);
  const refusal: unknown = h.scheduler.policyError;
  assert.ok(refusal instanceof PolicyError);
  assert.equal(refusal.code, 'E_POLICY');
  assert.equal(refusal.denial.address, '127.0.0.1');
  assert.ok(h.changes() > before, 'the run is woken to stop');
  await until('the queue drained', () => h.scheduler.counts().waiting === 0);
  for (const name of ['handshake', 'tcp', 'verbose', 'ping', 'path', 'mtu', 'inside'] as const) assert.ok(!h.started().includes(name), `${name} never started`);
  assert.deepEqual(h.obs.handshakes, []);
});

test('under a policy, an allowed name is probed at the checked addresses; ssh -vvv connects to the first, the name its HostKeyAlias', async () => {
  const h = harness('db.example', { policy: defaultPolicy() });
  h.scheduler.start();
  h.call('dns').finish(dnsDone('db.example.', ['10.0.0.7']));
  await until('getaddrinfo started', () => h.started().includes('resolve'));
  assert.ok(!h.started().includes('verbose'), 'ssh -vvv waits for the fence');
  h.call('resolve').finish(resolved('db.example', ['10.0.0.7']));
  await until('ssh -vvv started', () => h.started().includes('verbose'));
  assert.equal(h.call('handshake').opts.address, '10.0.0.7');
  assert.equal(h.call('verbose').opts.host, '10.0.0.7');
  assert.equal(h.call('verbose').opts.hostKeyAlias, 'db.example');
});

test('a probe that throws, or whose promise rejects, becomes its observation with the reason, and the log has it', async () => {
  const h = harness(ADDRESS, {}, {
    ping: () => {
      throw new TypeError('ping exploded');
    },
    tcp: () => Promise.reject(new Error('control\nport exploded')),
  });
  h.scheduler.start();
  await until('ping ran', () => h.obs.ping !== undefined);
  await until('the control port failed', () => h.obs.control !== undefined);
  assert.equal(h.obs.ping?.state, 'done');
  assert.equal(h.obs.ping?.unavailable, 'the ping probe failed: ping exploded');
  assert.equal(h.obs.control?.unavailable, 'the control-port probe failed: control port exploded');
  assert.equal(h.obs.control?.outcome, 'error');
  assert.ok(h.logged.includes('the ping probe failed: ping exploded'), h.logged.join('\n'));
  assert.equal(h.scheduler.handshakeFailure, undefined);

  // Without the handshake nothing can be judged: the scheduler says so for the run to stop.
  const broken = harness(ADDRESS, {}, { handshake: () => Promise.reject(new Error('handshake exploded')) });
  broken.scheduler.start();
  await until('the failure', () => broken.scheduler.handshakeFailure !== undefined);
  assert.equal(broken.scheduler.handshakeFailure, 'the ssh-handshake probe failed: handshake exploded');
  assert.equal(broken.obs.handshakes[0]?.state, 'done');
  assert.equal(broken.obs.handshakes[0]?.unavailable, 'the ssh-handshake probe failed: handshake exploded');
});

test('closing: every child that never started says so in its observation, and none starts after', async () => {
  const config = { diagnostics: [{ match: ['10.0.0.0/8'], user: 'diag', key: '/k', knownHosts: '/kh', port: 2222, sudo: false }] };
  const h = harness(ADDRESS, { config });
  h.scheduler.start();
  // A login on a port of its own waits at most INSIDE_WAIT_MS for the handshake.
  h.call('handshake').update(connectedSilent(1));
  h.setNow(1000);
  h.scheduler.step();
  assert.equal(h.obs.inside?.state, 'running');
  const waiting = h.scheduler.counts().waiting;
  assert.ok(waiting >= 4, `children queued: ${waiting}`);
  h.scheduler.close();
  assert.equal(h.scheduler.counts().waiting, 0);
  assert.equal(h.obs.verbose?.unavailable, 'not run: the run ended before ssh -vvv started');
  assert.equal(h.obs.ping?.unavailable, 'not run: the run ended before ping started');
  assert.equal(h.obs.sshConfig?.unavailable, 'not run: the run ended before ssh -G started');
  assert.equal(h.obs.path?.unavailable, 'not run: the run ended before path started');
  // A login that never started did not fail: there is no inside view.
  assert.deepEqual(h.obs.inside, { state: 'none', reason: 'not run: the run ended before inside started' });
  await turns();
  assert.ok(!h.started().some((n) => CHILDREN.includes(n)), h.started().join(', '));
});

test("ssh's own lookup says the name does not exist while getaddrinfo found it: ssh is asked once more, and the second try carries the first one's line", async () => {
  const h = harness('db.example');
  h.scheduler.start();
  h.call('dns').finish(dnsDone('db.example.', ['10.0.0.7']));
  await until('ssh -vvv started', () => h.started().includes('verbose'));
  const nxLine = 'ssh: Could not resolve hostname db.example: Name or service not known';
  const failedLookup = { state: 'done', startedMs: 5, endedMs: 9, command: ['ssh'], lines: [], parsed: { phases: [], stop: { kind: 'resolve-failed', line: nxLine, t: 9 } }, exitCode: 255 };
  h.call('verbose').finish(failedLookup);
  await until('ssh -vvv ended', () => h.obs.verbose?.state === 'done');
  // getaddrinfo has not answered yet: nothing contradicts ssh, so nothing is asked again.
  h.scheduler.step();
  assert.equal(h.calls.filter((c) => c.name === 'verbose').length, 1);
  h.call('resolve').finish(resolved('db.example', ['10.0.0.7']));
  await until('getaddrinfo ended', () => h.obs.resolve?.state === 'done');
  h.scheduler.step();
  await until('ssh -vvv started again', () => h.calls.filter((c) => c.name === 'verbose').length === 2);
  assert.equal(h.obs.verbose?.state, 'running', 'the first failure no longer stands as what ssh does');
  const second = h.calls.filter((c) => c.name === 'verbose')[1];
  assert.equal(second?.opts.host, 'db.example');
  second?.finish({ state: 'done', startedMs: 20, endedMs: 40, command: ['ssh'], lines: [], parsed: { phases: [{ id: 'kex-reply-received', t: 35 }] }, exitCode: 255 });
  await until('the second try ended', () => h.obs.verbose?.state === 'done');
  assert.deepEqual(h.obs.verbose?.firstTry, { line: nxLine, endedMs: 9 });
  // Once only: a second failure stands.
  h.scheduler.step();
  await turns();
  assert.equal(h.calls.filter((c) => c.name === 'verbose').length, 2);
});
