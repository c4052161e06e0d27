// A RST lost on the way (issue 19's loss table): TCP wrappers reset both of a check's
// connections 5 s after accepting them; when only ssh -vvv's reset arrives, the check's own
// connection, silent a second after it, counts as closed too — connection-closed, not a
// banner-timeout three seconds later.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyBanner, siblingClosedBeforeBanner } from '../../src/engine/checklist/facts.js';
import { assessTcpWrappers } from '../../src/engine/checklist/steps/tcp-wrappers.js';
import type { VerboseObs } from '../../src/engine/observations.js';
import { ADDRESS, handshake, input } from '../support/observations.js';

// Our connection: connected at 2 ms, then silence (its reset never arrived).
const ours = handshake({ tcp: { outcome: 'connected', atMs: 2 } });

function sshReset(over: Partial<VerboseObs['parsed']> = {}, connectedAt = 12): VerboseObs {
  return {
    state: 'done',
    startedMs: 5,
    endedMs: 5115,
    command: ['ssh'],
    lines: [],
    exitCode: 255,
    parsed: {
      address: ADDRESS,
      phases: [
        { id: 'connected', t: connectedAt, line: 'debug1: Connection established.' },
        { id: 'ident-sent', t: connectedAt + 1, line: 'debug1: Local version string SSH-2.0-OpenSSH_9.2p1' },
      ],
      last: 'ident-sent',
      stop: { kind: 'reset-before-banner', t: 5112, line: 'kex_exchange_identification: read: Connection reset by peer' },
      ...over,
    },
  };
}

test("ssh -vvv's pre-banner reset counts for our silent connection a second later, with the time ssh's connection lasted", () => {
  assert.deepEqual(siblingClosedBeforeBanner(sshReset(), ADDRESS, 2), { atMs: 5112, afterMs: 5100, how: 'reset' });
  assert.equal(classifyBanner(input({ handshakes: [ours], verbose: sshReset() }, 5600), ours).kind, 'waiting', 'our own reset may still come');
  const banner = classifyBanner(input({ handshakes: [ours], verbose: sshReset() }, 6200), ours);
  assert.deepEqual(banner, { kind: 'closed', afterMs: 5100, how: 'reset', by: 'ssh -vvv' });
  const step = assessTcpWrappers(input({ handshakes: [ours], verbose: sshReset() }, 6200));
  assert.equal(step.settled, true);
  assert.equal(step.findings[0]?.cause, 'connection-closed');
  assert.equal(step.findings[0]?.confidence, 'high', '5.1 s: the TCP wrappers pattern');
  assert.match(step.summary, /seen on ssh -vvv's connection/);
  // The run then stops our connection: the final look must not turn it into a timeout.
  const stopped = { ...ours, state: 'done' as const, endedMs: 6200, end: { kind: 'aborted' as const, phase: 'banner' as const, atMs: 6200, detail: 'stopped by the run' } };
  assert.equal(classifyBanner(input({ handshakes: [stopped], verbose: sshReset() }, 6200, { final: true }), stopped).kind, 'closed');
});

test('not when ssh got a banner, went through a proxy, connected before ours, or reached another address', () => {
  const greeted = sshReset({ phases: [{ id: 'connected', t: 12, line: '' }, { id: 'ident-received', t: 14, line: '' }] });
  assert.equal(siblingClosedBeforeBanner(greeted, ADDRESS, 2), undefined);
  assert.equal(siblingClosedBeforeBanner(sshReset({ proxied: true }), ADDRESS, 2), undefined);
  assert.equal(siblingClosedBeforeBanner(sshReset({}, 1), ADDRESS, 2), undefined, 'ssh connected first: its close may be older than ours');
  assert.equal(siblingClosedBeforeBanner(sshReset({ address: '10.9.9.9' }), ADDRESS, 2), undefined);
  assert.equal(classifyBanner(input({ handshakes: [ours], verbose: sshReset({ proxied: true }) }, 6200), ours).kind, 'waiting');
});
