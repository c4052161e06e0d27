// `/sshcheck db-3 from 203.0.113.7` through a bastion: the routed engine hands the requester's
// address to the bastion's service, and a check with `from` is never answered with the
// result of a plain check of the same target (nor the other way round).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoutedEngine } from '../../src/chat/routing.js';
import { loadRoutingConfig } from '../../src/chat/routing-config.js';
import { parseTarget } from '../../src/target.js';
import type { Runner } from '../../src/service/runs.js';
import { scriptedRunner, startLoopbackService, TOKEN_A } from './service-support.js';

test('routed checks pass `from` to the bastion, and the reuse key tells a from-check apart', async () => {
  const scripted = scriptedRunner({ vantage: 'eu-1' });
  const froms: Array<string | undefined> = [];
  const runner: Runner = (target, options) => {
    froms.push(options.from);
    return scripted.runner(target, options);
  };
  const svc = await startLoopbackService(runner);
  try {
    const config = loadRoutingConfig(`bastions:\n  - name: eu-1\n    url: ${svc.url}\n    token_env: T\ndefault: eu-1\n`, 'test.yml', { env: { T: TOKEN_A }, readFile: () => '' });
    // Bot-side reuse on: a plain check's result would be at hand for the from-check.
    const routed = new RoutedEngine(config, { reuseMs: 10_000 });
    const target = parseTarget('10.0.0.5');
    const plain = await routed.check(target);
    assert.equal(plain.reusedAgeMs, undefined);
    const withFrom = await routed.check(target, { from: '203.0.113.7' });
    assert.equal(withFrom.reusedAgeMs, undefined, 'not answered with the plain check');
    assert.deepEqual(froms, [undefined, '203.0.113.7'], 'the bastion was asked about the address');
    const again = await routed.check(target, { from: '203.0.113.7' });
    assert.ok(again.reusedAgeMs !== undefined, 'the same from-check is reused');
    const plainAgain = await routed.check(target);
    assert.ok(plainAgain.reusedAgeMs !== undefined, 'and the plain one too, each under its own key');
    assert.equal(scripted.runs(), 2);
  } finally {
    await svc.close();
  }
});
