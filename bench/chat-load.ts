// Chat under load: N concurrent /sshcheck commands through the fake Slack (real Bolt in Socket
// Mode, Slack's real per-channel pace, the real engine against loopback targets), spread over
// several channels and a mix of targets so that single flight and pacing both matter.
// Measures, at the fake (where Slack would see them): each command's ack, the parent carrying
// the diagnosis, every thread complete (parent, ten step replies, the final parent), none lost,
// and the recorded timestamps against the per-channel pace (burst, then ~1 message/s).
// Then the same with a gate that takes 10 s (a cold usergroups.list): Slack's ack and Discord's
// deferral must still arrive within ACK_BOUND_MS, before the gate answers, on both platforms.
// Usage: node dist/bench/chat-load.js [--commands 200] [--channels 20] [--slow-gate-only]
import { parseArgs } from 'node:util';
import { SLACK_PACE } from '../adapters/slack/index.js';
import type { PacerOptions } from '../src/chat/pacer.js';
import type { RecordedCall } from '../test/slack/fake-slack.js';
import { allText, startHarness } from '../test/slack/harness.js';
import type { Harness } from '../test/slack/harness.js';
import { closedPort, hostileSshServer } from '../test/slack/targets.js';
import { sshdUnavailable, startSshd } from '../test/support/openssh-server.js';
import type { TcpTarget } from '../test/slack/targets.js';
import { isMain, median, quantile, worst } from './stats.js';
import { heldGate, openGate } from '../test/support/open-gate.js';
import { startHarness as startDiscordHarness } from '../test/discord/harness.js';

export interface ChatLoadOptions {
  commands?: number;
  channels?: number;
  pace?: PacerOptions;
  /** Gives up waiting for the threads after this long. */
  timeoutMs?: number;
}

export interface ChatLoadResult {
  commands: number;
  channels: number;
  targets: number;
  ackMs: { p50: number; p99: number; worst: number };
  ackedWithin3s: number;
  /** From the command to the parent showing the diagnosis. */
  diagnosisMs: { p50: number; p99: number; worst: number };
  /** Threads with their parent, all ten step replies and the final parent update. */
  complete: number;
  /** Commands with no parent message at all. */
  lost: number;
  /** Messages sent faster than the pace allows (burst + elapsed seconds × rate, per channel). */
  paceViolations: number;
  /** Checks the adapter asked the engine for (single flight then joins concurrent ones of one target). */
  checksAsked: number;
  messages: number;
  totalMs: number;
}

/**
 * Calls in one channel that exceed a token bucket of `burst` tokens refilled at `perSecond`:
 * any k+1 consecutive calls must span at least (k + 1 - burst) / perSecond seconds. The times
 * are arrivals at the fake, as Slack counts them; 2 ms allow for timer rounding only.
 */
export function paceViolations(times: readonly number[], pace: PacerOptions, slackMs = 2): number {
  const t = [...times].sort((a, b) => a - b);
  let violations = 0;
  for (let i = 0; i < t.length; i++) {
    for (let j = i + pace.burst; j < t.length && j <= i + pace.burst + 30; j++) {
      const needed = ((j - i + 1 - pace.burst) / pace.perSecond) * 1000;
      if ((t[j] ?? 0) - (t[i] ?? 0) < needed - slackMs) {
        violations += 1;
        break;
      }
    }
  }
  return violations;
}

const stats = (v: number[]): { p50: number; p99: number; worst: number } => ({ p50: median(v), p99: quantile(v, 0.99), worst: worst(v) });

function threads(calls: readonly RecordedCall[]): Map<string, { parent: RecordedCall; replies: number; final: boolean; diagnosedAt?: number }> {
  const out = new Map<string, { parent: RecordedCall; replies: number; final: boolean; diagnosedAt?: number }>();
  for (const c of calls) {
    if (c.method === 'chat.postMessage' && c.args['thread_ts'] === undefined && typeof c.response['ts'] === 'string') out.set(c.response['ts'], { parent: c, replies: 0, final: false });
  }
  for (const c of calls) {
    if (c.method === 'chat.postMessage' && typeof c.args['thread_ts'] === 'string') {
      const t = out.get(c.args['thread_ts']);
      if (t) t.replies += 1;
    }
    if (c.method === 'chat.update' && typeof c.args['ts'] === 'string') {
      const t = out.get(c.args['ts']);
      const text = allText(c.args);
      if (t && text.includes('*Diagnosis:*')) t.diagnosedAt ??= c.at;
      if (t && text.includes('finished in')) t.final = true;
    }
  }
  return out;
}

export async function chatLoad(options: ChatLoadOptions): Promise<ChatLoadResult> {
  const commands = options.commands ?? 200;
  const channels = options.channels ?? 20;
  const pace = options.pace ?? SLACK_PACE;
  const closers: Array<() => Promise<void> | void> = [];
  let h: Harness | undefined;
  try {
    // A mix of loopback targets: closed ports (answered at once), an "SSH server" that closes
    // after its banner, and a real sshd when this runs as root (a healthy host).
    const targets: string[] = [];
    for (let i = 0; i < 5; i++) targets.push(`127.0.0.1 ${await closedPort()}`);
    const hostile: TcpTarget = await hostileSshServer();
    closers.push(() => hostile.close());
    targets.push(`127.0.0.1 ${hostile.port}`);
    if (sshdUnavailable() === undefined) {
      const sshd = await startSshd();
      closers.push(() => sshd.stop());
      targets.push(`127.0.0.1 ${sshd.port}`);
    }
    h = await startHarness({ pace });
    const harness = h;
    const started = performance.now();
    const sent = Array.from({ length: commands }, (_, i) => {
      const channel = `C0LOAD${String(i % channels).padStart(3, '0')}`;
      const d = harness.fake.sendSlashCommand({ text: targets[i % targets.length] ?? '', channel_id: channel, user_id: `U0USER${String(i).padStart(4, '0')}` });
      return { channel, d };
    });
    const acks = await Promise.all(sent.map(async ({ d }) => (await d.ack).at - d.sentAt));
    const byChannel = (): Map<string, ReturnType<typeof threads>> => {
      const m = new Map<string, ReturnType<typeof threads>>();
      for (let c = 0; c < channels; c++) {
        const channel = `C0LOAD${String(c).padStart(3, '0')}`;
        m.set(channel, threads(harness.fake.calls.filter((call) => call.args['channel'] === channel && call.status === 200)));
      }
      return m;
    };
    const perChannel = Math.ceil(commands / channels);
    // Every thread: ~13 messages; the channel's pace bounds how fast they can go.
    const timeoutMs = options.timeoutMs ?? Math.max(60_000, (perChannel * 14 * 1000) / pace.perSecond + 30_000);
    await harness.fake.waitFor(
      () => harness.adapter.running === 0 && harness.checks.length >= commands,
      timeoutMs,
      'every check to finish posting',
    );
    const totalMs = performance.now() - started;
    let complete = 0;
    let lost = 0;
    let violations = 0;
    const diagnosis: number[] = [];
    const sentAt = new Map(sent.map(({ channel, d }) => [channel, d.sentAt]));
    for (const [channel, ts] of byChannel()) {
      const expected = sent.filter((s) => s.channel === channel).length;
      lost += Math.max(0, expected - ts.size);
      for (const t of ts.values()) {
        if (t.replies >= 10 && t.final) complete += 1;
        if (t.diagnosedAt !== undefined) diagnosis.push(t.diagnosedAt - (sentAt.get(channel) ?? started));
      }
      const times = harness.fake.calls.filter((c) => c.args['channel'] === channel && (c.method === 'chat.postMessage' || c.method === 'chat.update')).map((c) => c.at);
      violations += paceViolations(times, pace);
    }
    return {
      commands,
      channels,
      targets: targets.length,
      ackMs: stats(acks),
      ackedWithin3s: acks.filter((a) => a <= 3000).length,
      diagnosisMs: stats(diagnosis),
      complete,
      lost,
      paceViolations: violations,
      checksAsked: harness.checks.length,
      messages: harness.fake.calls.filter((c) => c.method === 'chat.postMessage' || c.method === 'chat.update').length,
      totalMs,
    };
  } finally {
    await h?.close();
    for (const close of closers) await close();
  }
}

/** Acknowledgement with a gate that takes 10 s: Slack's ack and Discord's deferral must not wait for it. */
export const SLOW_GATE_MS = 10_000;
/** The bound the issue sets for both: well inside Discord's and Slack's 3 s. */
export const ACK_BOUND_MS = 100;

export interface SlowGateResult {
  gateMs: number;
  commands: number;
  slackAckMs: { p50: number; worst: number };
  discordDeferMs: { p50: number; worst: number };
  /** Every ack and deferral arrived before the gate answered. */
  beforeGate: boolean;
  withinBound: boolean;
}

/**
 * `commands` /sshcheck commands on each platform, one after another, through a gate that
 * answers after 10 s, measured at the fakes (where Slack and Discord see them): the ack, and the type 5 deferral.
 */
export async function slowGateAck(commands = 5): Promise<SlowGateResult> {
  const slackGate = heldGate(openGate(), SLOW_GATE_MS);
  const discordGate = heldGate(openGate(), SLOW_GATE_MS);
  const slack = await startHarness({ gate: slackGate });
  const discord = await startDiscordHarness({ gate: discordGate });
  try {
    const port = await closedPort();
    // One of each first, not counted: the first request of a process pays for loading code.
    await slack.fake.sendSlashCommand({ text: `127.0.0.1 ${port}`, channel_id: 'C0WARMUP', user_id: 'U0WARMUP' }).ack;
    const warm = discord.fake.dispatchInteraction({ target: `127.0.0.1:${port}` });
    await discord.fake.waitFor((c) => c.method === 'POST' && c.path === `/interactions/${warm.id}/${warm.token}/callback`, SLOW_GATE_MS * 2);
    // One at a time: the latency of one request, not of a queue (the load run measures that).
    const acks: Array<{ at: number; ms: number }> = [];
    for (let i = 0; i < commands; i++) {
      const d = slack.fake.sendSlashCommand({ text: `127.0.0.1 ${port}`, channel_id: `C0SLOWGATE${i}`, user_id: `U0SLOW${i}` });
      const ack = await d.ack;
      acks.push({ at: ack.at, ms: ack.at - d.sentAt });
    }
    const defers: Array<{ at: number; ms: number; type: number | undefined }> = [];
    for (let n = 0; n < commands; n++) {
      const i = discord.fake.dispatchInteraction({ target: `127.0.0.1:${port}` });
      const call = await discord.fake.waitFor((c) => c.method === 'POST' && c.path === `/interactions/${i.id}/${i.token}/callback`, SLOW_GATE_MS * 2);
      defers.push({ at: call.at, ms: call.at - i.dispatchedAt, type: (call.body as { type?: number }).type });
    }
    const beforeGate = slackGate.answeredAt.length === 0 && discordGate.answeredAt.length === 0 && defers.every((d) => d.type === 5);
    slackGate.release();
    discordGate.release();
    const slackMs = acks.map((a) => a.ms);
    const discordMs = defers.map((d) => d.ms);
    return {
      gateMs: SLOW_GATE_MS,
      commands,
      slackAckMs: { p50: median(slackMs), worst: worst(slackMs) },
      discordDeferMs: { p50: median(discordMs), worst: worst(discordMs) },
      beforeGate,
      withinBound: worst(slackMs) <= ACK_BOUND_MS && worst(discordMs) <= ACK_BOUND_MS,
    };
  } finally {
    slackGate.release();
    discordGate.release();
    await slack.close();
    await discord.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { commands: { type: 'string', default: '200' }, channels: { type: 'string', default: '20' }, 'slow-gate-only': { type: 'boolean', default: false } } });
  const slow = await slowGateAck();
  process.stdout.write(`${JSON.stringify({ slowGate: slow }, null, 2)}\n`);
  if (!slow.withinBound || !slow.beforeGate) process.exitCode = 1;
  if (values['slow-gate-only']) return;
  const commands = Number(values.commands);
  const channels = Number(values.channels);
  if (!Number.isInteger(commands) || commands < 1 || commands > 1000) throw new Error('--commands must be 1-1000');
  if (!Number.isInteger(channels) || channels < 1 || channels > commands) throw new Error('--channels must be 1-commands');
  const r = await chatLoad({ commands, channels });
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}

if (isMain(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`chat-load: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
