// Chat under load: N concurrent /sshcheck commands through the fake Slack (real Bolt in Socket
// Mode, Slack's real per-channel pace, the real engine against loopback targets), spread over
// several channels and a mix of targets so that single flight and pacing both matter.
// Measures, at the fake (where Slack would see them): each command's ack, the parent carrying
// the diagnosis, every thread complete (parent, ten step replies, the final parent), none lost,
// and the recorded timestamps against the per-channel pace (burst, then ~1 message/s).
// Then the same load with a gate that takes 10 s to answer each request (a cold
// usergroups.list), Slack over the channels and as many Discord interactions: every Slack ack
// and every Discord deferral must still arrive within ACK_BOUND_MS, before the gate answers;
// so must each of a few requests sent one at a time; the bench fails (exit 1) otherwise.
// Usage: node dist/bench/chat-load.js [--commands 200] [--channels 20] [--slow-gate-only]
import { loadavg } from 'node:os';
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
import type { ChatGate } from '../src/chat/admission.js';
import type { EngineClient } from '../src/chat/engine-client.js';
import { heldGate, openGate } from '../test/support/open-gate.js';
import { startHarness as startDiscordHarness } from '../test/discord/harness.js';

export interface ChatLoadOptions {
  commands?: number;
  channels?: number;
  pace?: PacerOptions;
  /** Gives up waiting for the threads after this long. */
  timeoutMs?: number;
  /** Each request's gate answers this long after it was asked (see delayedGate); an open gate otherwise. */
  gateMs?: number;
  /** The engine the bot gets instead of the in-process one (bench/nats-overhead.ts: through the broker). */
  engine?: EngineClient;
  /** The command texts after /sshcheck, used in turn, instead of the loopback mix. */
  targets?: readonly string[];
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
  /** Commands with more than one parent message (each command is by its own user). */
  parentsTwice: number;
  /** For those: how long after the first parent the second was received by the fake (ms). */
  secondParentAfterMs: number[];
  /** Threads that ended without a report, by the parent's last text (digits as N): a refusal or a failure said in the thread. */
  unfinished: Record<string, number>;
  /** Messages sent faster than the pace allows (burst + elapsed seconds × rate, per channel). */
  paceViolations: number;
  /** Checks the adapter asked the engine for (single flight then joins concurrent ones of one target). */
  checksAsked: number;
  messages: number;
  totalMs: number;
  /** Answers to the requester through the response_url ("Checking…", fallbacks) that reached the fake. */
  privateAnswers: number;
  /** From each command to its first private answer reaching the fake. */
  privateAnswerMs: { p50: number; p99: number; worst: number };
  /** The bot's warnings and errors (the Slack SDK's included), by message with digits as N: what went wrong, if anything. */
  warnings: Record<string, number>;
  /** With a slow gate: how long each request's gate took, and the acks that arrived before the first gate answer. */
  gateMs?: number;
  ackedBeforeGate?: number;
}

/**
 * The open gate, but each answer (single check or fleet) comes `ms` after that request asked,
 * as a gate waiting on a cold usergroups.list or a slow store would. Records when it answered.
 */
export function delayedGate(ms: number): ChatGate & { answeredAt: number[] } {
  const inner = openGate();
  const answeredAt: number[] = [];
  const later = async <T>(answer: () => Promise<T>): Promise<T> => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    const decision = await answer();
    answeredAt.push(performance.now());
    return decision;
  };
  return { answeredAt, admit: (r) => later(() => inner.admit(r)), admitFleet: (r) => later(() => inner.admitFleet(r)) };
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

function threads(calls: readonly RecordedCall[]): Map<string, { parent: RecordedCall; replies: number; final: boolean; diagnosedAt?: number; lastText: string }> {
  const out = new Map<string, { parent: RecordedCall; replies: number; final: boolean; diagnosedAt?: number; lastText: string }>();
  for (const c of calls) {
    if (c.method === 'chat.postMessage' && c.args['thread_ts'] === undefined && typeof c.response['ts'] === 'string') out.set(c.response['ts'], { parent: c, replies: 0, final: false, lastText: allText(c.args) });
  }
  for (const c of calls) {
    if (c.method === 'chat.postMessage' && typeof c.args['thread_ts'] === 'string') {
      const t = out.get(c.args['thread_ts']);
      if (t) t.replies += 1;
    }
    if (c.method === 'chat.update' && typeof c.args['ts'] === 'string') {
      const t = out.get(c.args['ts']);
      const text = allText(c.args);
      if (t) t.lastText = text;
      if (t && text.includes('*Diagnosis:*')) t.diagnosedAt ??= c.at;
      if (t && text.includes('finished in')) t.final = true;
    }
  }
  return out;
}

function warningsOf(lines: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of lines) {
    const entry = JSON.parse(line) as { level?: string; msg?: string; error?: unknown };
    if (entry.level !== 'warn' && entry.level !== 'error') continue;
    const text = `${entry.level}: ${entry.msg ?? ''}${typeof entry.error === 'string' ? ` (${entry.error})` : ''}`.replace(/[0-9]+/g, 'N').slice(0, 200);
    out[text] = (out[text] ?? 0) + 1;
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
    const targets: string[] = [...(options.targets ?? [])];
    if (targets.length === 0) for (let i = 0; i < 5; i++) targets.push(`127.0.0.1 ${await closedPort()}`);
    if (options.targets === undefined) {
      const hostile: TcpTarget = await hostileSshServer();
      closers.push(() => hostile.close());
      targets.push(`127.0.0.1 ${hostile.port}`);
    }
    if (options.targets === undefined && sshdUnavailable() === undefined) {
      const sshd = await startSshd();
      closers.push(() => sshd.stop());
      targets.push(`127.0.0.1 ${sshd.port}`);
    }
    const gate = options.gateMs !== undefined ? delayedGate(options.gateMs) : undefined;
    h = await startHarness({ pace, ...(gate !== undefined ? { gate } : {}), ...(options.engine !== undefined ? { engine: options.engine } : {}) });
    const harness = h;
    const started = performance.now();
    const sent = Array.from({ length: commands }, (_, i) => {
      const channel = `C0LOAD${String(i % channels).padStart(3, '0')}`;
      const d = harness.fake.sendSlashCommand({ text: targets[i % targets.length] ?? '', channel_id: channel, user_id: `U0USER${String(i).padStart(4, '0')}` });
      return { channel, d };
    });
    const acked = await Promise.all(
      sent.map(async ({ d }) => {
        const { at } = await d.ack;
        return { at, ms: at - d.sentAt };
      }),
    );
    const acks = acked.map((a) => a.ms);
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
    const timeoutMs = options.timeoutMs ?? Math.max(60_000, (perChannel * 14 * 1000) / pace.perSecond + 30_000 + (options.gateMs ?? 0));
    await harness.fake.waitFor(
      () => harness.adapter.running === 0 && harness.checks.length >= commands,
      timeoutMs,
      'every check to finish posting',
    );
    const totalMs = performance.now() - started;
    let complete = 0;
    let lost = 0;
    let violations = 0;
    const unfinished: Record<string, number> = {};
    const parentsByUser = new Map<string, number[]>();
    const diagnosis: number[] = [];
    const sentAt = new Map(sent.map(({ channel, d }) => [channel, d.sentAt]));
    for (const [channel, ts] of byChannel()) {
      const expected = sent.filter((s) => s.channel === channel).length;
      lost += Math.max(0, expected - ts.size);
      for (const t of ts.values()) {
        const user = /<@(U[A-Z0-9]+)>/.exec(allText(t.parent.args))?.[1] ?? '?';
        parentsByUser.set(user, [...(parentsByUser.get(user) ?? []), t.parent.at]);
        if (t.replies >= 10 && t.final) complete += 1;
        else {
          const last = t.lastText.replace(/[0-9]+/g, 'N').replace(/\s+/g, ' ').slice(0, 400);
          unfinished[last] = (unfinished[last] ?? 0) + 1;
        }
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
      parentsTwice: [...parentsByUser.values()].filter((times) => times.length > 1).length,
      secondParentAfterMs: [...parentsByUser.values()].filter((times) => times.length > 1).map((times) => Math.round((times.sort((a, b) => a - b)[1] ?? 0) - (times[0] ?? 0))),
      unfinished,
      paceViolations: violations,
      checksAsked: harness.checks.length,
      messages: harness.fake.calls.filter((c) => c.method === 'chat.postMessage' || c.method === 'chat.update').length,
      privateAnswers: harness.fake.responses.length,
      privateAnswerMs: stats(sent.flatMap(({ d }) => {
        const first = harness.fake.responses.find((r) => d.responseUrl.endsWith(`/${r.id}`));
        return first === undefined ? [] : [first.at - d.sentAt];
      })),
      totalMs,
      warnings: warningsOf(harness.logs),
      ...(gate !== undefined && options.gateMs !== undefined ? { gateMs: options.gateMs, ackedBeforeGate: acked.filter((a) => a.at < Math.min(...gate.answeredAt)).length } : {}),
    };
  } finally {
    await h?.close();
    for (const close of closers) await close();
  }
}

/** Acknowledgement with a gate that takes 10 s: Slack's ack and Discord's deferral must not wait for it. */
export const SLOW_GATE_MS = 10_000;
/** The bound the issue sets for both, for every request of the load: well inside Discord's and Slack's 3 s. */
export const ACK_BOUND_MS = 100;

export interface DiscordLoadResult {
  commands: number;
  gateMs: number;
  deferMs: { p50: number; p99: number; worst: number };
  /** Answered with a type 5 deferral (not a reply, not nothing). */
  deferred: number;
  /** Deferrals that arrived before the first gate answer. */
  deferredBeforeGate: number;
  /** Checks that finished (parent and thread posted). */
  complete: number;
  totalMs: number;
}

/**
 * `commands` concurrent /sshcheck interactions through the fake Discord (real discord.js, the
 * real engine on loopback), each gate answer `gateMs` after its request: the type 5 deferral,
 * measured at the fake (where Discord sees it), then every check to the end.
 */
export async function discordLoad(options: { commands?: number; gateMs: number; timeoutMs?: number }): Promise<DiscordLoadResult> {
  const commands = options.commands ?? 200;
  const gate = delayedGate(options.gateMs);
  const h = await startDiscordHarness({ gate });
  try {
    const ports = [await closedPort(), await closedPort(), await closedPort()];
    const started = performance.now();
    const sent = Array.from({ length: commands }, (_, i) => h.fake.dispatchInteraction({ target: `127.0.0.1:${ports[i % ports.length] ?? 1}` }));
    const paths = new Map(sent.map((i) => [`/interactions/${i.id}/${i.token}/callback`, i]));
    const callbacks = (): Array<{ at: number; ms: number; type: number | undefined }> =>
      h.fake.calls.flatMap((c) => {
        const i = c.method === 'POST' ? paths.get(c.path) : undefined;
        return i === undefined ? [] : [{ at: c.at, ms: c.at - i.dispatchedAt, type: (c.body as { type?: number }).type }];
      });
    const deadline = performance.now() + (options.timeoutMs ?? 120_000 + options.gateMs);
    const ids = new Set(sent.map((i) => i.id));
    const done = (): number => h.logger.entries.filter((e) => e.msg === 'discord check done' && ids.has(String(e.fields['interaction']))).length;
    while ((callbacks().length < commands || done() < commands) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const totalMs = performance.now() - started;
    const answers = callbacks();
    const firstGate = Math.min(...gate.answeredAt);
    const ms = answers.map((a) => a.ms);
    return {
      commands,
      gateMs: options.gateMs,
      deferMs: stats(ms),
      deferred: answers.filter((a) => a.type === 5).length,
      deferredBeforeGate: answers.filter((a) => a.type === 5 && a.at < firstGate).length,
      complete: done(),
      totalMs,
    };
  } finally {
    await h.stop();
  }
}

/** Every request acknowledged within the bound and before the gate answered, on both platforms. */
export function slowGateHolds(slack: ChatLoadResult, discord: DiscordLoadResult): string[] {
  const failures: string[] = [];
  if (slack.ackMs.worst > ACK_BOUND_MS) failures.push(`slack: worst ack ${slack.ackMs.worst.toFixed(1)} ms > ${ACK_BOUND_MS} ms`);
  if (slack.ackedBeforeGate !== slack.commands) failures.push(`slack: ${slack.commands - (slack.ackedBeforeGate ?? 0)} acks not before the gate answered`);
  if (discord.deferMs.worst > ACK_BOUND_MS) failures.push(`discord: worst deferral ${discord.deferMs.worst.toFixed(1)} ms > ${ACK_BOUND_MS} ms`);
  if (discord.deferredBeforeGate !== discord.commands) failures.push(`discord: ${discord.commands - discord.deferredBeforeGate} deferrals missing or not before the gate answered`);
  return failures;
}

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
  const commands = Number(values.commands);
  const channels = Number(values.channels);
  if (!Number.isInteger(commands) || commands < 1 || commands > 1000) throw new Error('--commands must be 1-1000');
  if (!Number.isInteger(channels) || channels < 1 || channels > commands) throw new Error('--channels must be 1-commands');
  // The latency of one request (one at a time, after a warm-up), then the bound under the
  // whole load: a gate of 10 s per request on both platforms. The load average says how busy
  // the (shared) machine was.
  const one = await slowGateAck();
  process.stdout.write(`${JSON.stringify({ slowGateOneAtATime: one, loadAverage: loadavg() }, null, 2)}\n`);
  const slack = await chatLoad({ commands, channels, gateMs: SLOW_GATE_MS });
  process.stdout.write(`${JSON.stringify({ slowGate: { slack }, loadAverage: loadavg() }, null, 2)}\n`);
  const discord = await discordLoad({ commands, gateMs: SLOW_GATE_MS });
  process.stdout.write(`${JSON.stringify({ slowGate: { discord }, loadAverage: loadavg() }, null, 2)}\n`);
  const failures = slowGateHolds(slack, discord);
  if (!one.withinBound || !one.beforeGate) failures.push(`one at a time: worst ack ${one.slackAckMs.worst.toFixed(1)} ms, worst deferral ${one.discordDeferMs.worst.toFixed(1)} ms (bound ${ACK_BOUND_MS} ms)`);
  for (const f of failures) process.stderr.write(`chat-load: bound missed: ${f}\n`);
  if (failures.length > 0) process.exitCode = 1;
  if (values['slow-gate-only']) return;
  const r = await chatLoad({ commands, channels });
  process.stdout.write(`${JSON.stringify({ openGate: r, loadAverage: loadavg() }, null, 2)}\n`);
}

if (isMain(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`chat-load: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
