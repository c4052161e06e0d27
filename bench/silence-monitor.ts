// The agents' silences, seen from a process of its own: every message on a check's reply
// subject (events and heartbeats) timed as it arrives, and each check's longest gap between
// two of them. bench/nats-overhead.ts also times them in its own process, but that process
// runs the fake Slack, Bolt and 200 chat commands at once: a stall of its own event loop would
// read as an agent's silence. This one does nothing else.
// Run by bench/nats-overhead.ts (fork, IPC): argv[2] is the broker URL; "stop" ends it, and it
// answers with the gaps.
import { connect } from '@nats-io/transport-node';

const url = process.argv[2];
if (url === undefined || !process.send) throw new Error('usage: forked by bench/nats-overhead.ts with the broker URL');
const send = process.send.bind(process);
const nc = await connect({ servers: url });
const seen = new Map<string, number[]>();
nc.subscribe('_INBOX.>', {
  callback: (_err, msg) => {
    const times = seen.get(msg.subject) ?? [];
    times.push(performance.now());
    seen.set(msg.subject, times);
  },
});
await nc.flush();
send({ ready: true });
process.on('message', (message) => {
  if (message !== 'stop') return;
  const gaps = [...seen.values()].filter((t) => t.length > 1).map((t) => Math.max(...t.slice(1).map((at, i) => at - (t[i] ?? at))));
  send({ gaps }, () => void nc.close().finally(() => process.exit(0)));
});
