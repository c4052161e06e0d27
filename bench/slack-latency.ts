// Time from a /sshcheck envelope to (1) its ack, (2) the parent chat.postMessage and (3) the
// chat.update that puts the diagnosis in the parent, measured where Slack would see them: at
// the fake Slack (test/slack/fake-slack.ts), with the real Bolt app in Socket Mode, Slack's
// real posting pace and the real probe engine against a closed loopback port.
// Each run uses its own channel (a quiet incident channel), one after the other.
// Usage: node dist/bench/slack-latency.js [--runs 20]
import { parseArgs } from 'node:util';
import { SLACK_PACE } from '../adapters/slack/index.js';
import { allText, settled, startHarness } from '../test/slack/harness.js';
import { closedPort } from '../test/slack/targets.js';
import { median } from './stats.js';

interface Sample {
  ackMs: number;
  parentMs: number;
  diagnosisMs: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 200) throw new Error('--runs must be 1-200');
  const h = await startHarness({ pace: SLACK_PACE });
  const samples: Sample[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const port = await closedPort();
      const channel = `C0BENCH${String(i).padStart(3, '0')}`;
      const sent = h.fake.sendSlashCommand({ text: `127.0.0.1 ${port}`, channel_id: channel });
      const ack = await sent.ack;
      await h.fake.waitFor(() => h.fake.callsOf('chat.update', channel).some((c) => allText(c.args).includes('*Diagnosis:*')), 10_000, `the diagnosis in ${channel}`);
      const parent = h.fake.callsOf('chat.postMessage', channel).find((c) => c.args['thread_ts'] === undefined);
      const diagnosis = h.fake.callsOf('chat.update', channel).find((c) => allText(c.args).includes('*Diagnosis:*'));
      if (!parent || !diagnosis) throw new Error(`run ${i}: no parent or no diagnosis`);
      samples.push({ ackMs: ack.at - sent.sentAt, parentMs: parent.at - sent.sentAt, diagnosisMs: diagnosis.at - sent.sentAt });
    }
    await settled(h, runs, 120_000);
  } finally {
    await h.close();
  }
  const row = (label: string, pick: (s: Sample) => number): string => {
    const v = samples.map(pick);
    return `${label.padEnd(22)} ${median(v).toFixed(1).padStart(8)} ms ${Math.max(...v).toFixed(1).padStart(8)} ms`;
  };
  process.stdout.write(
    [
      `Slack adapter latency through the fake Slack: Socket Mode, real Bolt, real engine (closed loopback port), ${runs} runs, Node ${process.version}`,
      `${'from the envelope to'.padEnd(22)} ${'median'.padStart(11)} ${'worst'.padStart(11)}`,
      row('ack', (s) => s.ackMs),
      row('parent message', (s) => s.parentMs),
      row('diagnosis in parent', (s) => s.diagnosisMs),
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
