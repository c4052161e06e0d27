// Ban safety, the pure parts: which user name a check may send (only one known to exist),
// and how step 8 reads a handshake that stopped at the ssh-userauth service because it had none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessAll } from '../../src/engine/checklist/assess.js';
import { diagnose } from '../../src/engine/checklist/diagnose.js';
import { parseEngineConfig, probeUserFor } from '../../src/engine/config.js';
import { parseTarget } from '../../src/engine/target.js';
import { completeHandshake, control, input, pingReply, verboseDone } from '../support/observations.js';
import type { HandshakeObs } from '../../src/engine/observations.js';

const CONFIG = parseEngineConfig(
  ['probe_user: monitor', 'diagnostics:', '  - match: ["db-*"]', '    user: diag', '    key: /k', '    known_hosts: /kh', ''].join('\n'),
);

test('no configuration: no user name is sent', () => {
  assert.equal(probeUserFor(undefined, parseTarget('db-3'), ['10.0.0.5'], undefined), undefined);
  assert.equal(probeUserFor(parseEngineConfig(''), parseTarget('db-3'), ['10.0.0.5'], undefined), undefined);
});

test('the operator’s -l wins, then the diagnostics login for the target, then probe_user', () => {
  assert.equal(probeUserFor(CONFIG, parseTarget('db-3'), [], 'alice'), 'alice');
  assert.equal(probeUserFor(CONFIG, parseTarget('db-3'), [], undefined), 'diag');
  assert.equal(probeUserFor(CONFIG, parseTarget('web-1'), [], undefined), 'monitor');
});

test('probe_user is checked like any user name', () => {
  assert.throws(() => parseEngineConfig('probe_user: "-oProxyCommand=x"\n', 'e.yml'), /e\.yml:1: probe_user: invalid user name/);
  assert.equal(parseEngineConfig('probe_user: monitor\n').probeUser, 'monitor');
});

/** What the handshake records when it had no user name: complete at the ssh-userauth service. */
function stoppedAtService(): HandshakeObs {
  const h = completeHandshake();
  const { 'auth-methods': _methods, ...at } = h.at;
  const { authMethods: _list, ...rest } = h;
  return { ...rest, at };
}

test('step 8 skips with the reason and how to enable it; the host is still healthy with high confidence', () => {
  const i = input({ handshakes: [stoppedAtService()], ping: pingReply(), control: control('refused'), verbose: verboseDone('auth-denied') }, 400, { final: true });
  const steps = assessAll(i);
  const auth = steps.find((s) => s.id === 'auth');
  assert.equal(auth?.status, 'skip');
  assert.match(auth?.summary ?? '', /^not measured: no user name was sent/);
  assert.match(auth?.summary ?? '', /Invalid user/);
  assert.match(auth?.evidence.map((e) => e.detail).join('\n') ?? '', /ssh-userauth service accepted 1.0 ms after NEWKEYS; no user name sent/);
  const d = diagnose(steps, i.target, 'bastion-1', true).diagnosis;
  assert.equal(d.cause, 'healthy');
  assert.equal(d.confidence, 'high');
});
