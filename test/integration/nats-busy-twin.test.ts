// A bastion's agents share its work: when the agent a check is addressed to is full (it
// refuses "busy" and starts nothing), the bot's NATS client sends the check to its twin;
// only when every agent of the bastion is full is the check refused as busy. Real
// nats-server; the agents are scripted subscribers, so which one is full is decided here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { NatsEngine, NatsEngineError } from '../../src/nats/engine.js';
import { preferredAgent } from '../../src/nats/directory.js';
import { checkSubject } from '../../src/nats/protocol.js';
import { targetKey } from '../../src/chat/shared-runs.js';
import { parseTarget } from '../../src/target.js';
import { natsUnavailable, TestBroker } from '../support/nats-server.js';

const unavailable = natsUnavailable();
if (unavailable) console.log(`# nats busy-twin tests skipped: ${unavailable}`);

describe('a full agent hands the check to its twin', { skip: unavailable ?? false }, () => {
  let broker: TestBroker;
  let nc: NatsConnection;
  const target = parseTarget('127.0.0.1:2222');
  const names = ['eu-a', 'eu-b'];
  /** Which agents answer busy, and the agents each check was addressed to, in order. */
  let full = new Set<string>();
  let asked: string[] = [];

  before(async () => {
    broker = await TestBroker.start();
    nc = await connect({ servers: broker.url });
    for (const name of names) {
      nc.subscribe(checkSubject('eu-1', name), {
        callback: (_err, msg) => {
          asked.push(name);
          if (full.has(name)) return void msg.respond(JSON.stringify({ t: 'refused', code: 'busy', message: '4 checks are running, the most this service runs at once: try again in 2 s' }));
          msg.respond(JSON.stringify({ t: 'accepted', agent: name, bastion: 'eu-1', outcome: 'started' }));
          msg.respond(JSON.stringify({ t: 'event', seq: 1, event: { type: 'run-finished', report: { id: `report-of-${name}` }, elapsedMs: 1 } }));
        },
      });
    }
    await nc.flush();
  });

  after(async () => {
    await nc?.close();
    await broker?.destroy();
  });

  const engine = (): NatsEngine => {
    const e = new NatsEngine(nc, { url: broker.url });
    for (const agent of names) e.directory.update({ bastion: 'eu-1', agent, cidrs: ['127.0.0.1/32'], suffixes: [], up: true });
    return e;
  };

  test('the preferred agent is full: its twin runs the check, and nobody is told of a lost agent', async () => {
    const preferred = preferredAgent(names, targetKey(target)) ?? '';
    const twin = names.find((n) => n !== preferred) ?? '';
    full = new Set([preferred]);
    asked = [];
    const e = engine();
    const lost: string[] = [];
    e.onLost = (text) => lost.push(text);
    const { report } = await e.check(target, { via: 'eu-1' });
    assert.equal(report.id, `report-of-${twin}`);
    assert.deepEqual(asked, [preferred, twin]);
    assert.deepEqual(lost, []);
  });

  test('every agent of the bastion is full: the check is refused as busy, each agent asked once', async () => {
    full = new Set(names);
    asked = [];
    const refused = await engine()
      .check(target, { via: 'eu-1' })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    assert.ok(refused instanceof NatsEngineError && refused.kind === 'busy', `got ${String(refused)}`);
    assert.match(refused.message, /bastion eu-1 .*refused the check of 127\.0\.0\.1:2222: 4 checks are running/);
    assert.deepEqual([...asked].sort(), [...names].sort());
  });
});
