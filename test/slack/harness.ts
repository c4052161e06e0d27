// The real Slack adapter (real Bolt) against the fake Slack, with the real probe engine kept
// on loopback: resolv.conf names 127.0.0.1 and DNS goes to a closed loopback port, so nothing
// leaves the machine. The logger records raw lines (no scrubbing), so a test can tell whether
// the adapter ever handed it a secret.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SlackConfig } from '../../src/chat/bot-config.js';
import type { EngineClient } from '../../src/chat/engine-client.js';
import { InProcessEngine } from '../../src/chat/engine-client.js';
import type { PacerOptions } from '../../src/chat/pacer.js';
import { SharedRuns } from '../../src/chat/shared-runs.js';
import type { EngineConfig } from '../../src/config/engine-config.js';
import type { Logger } from '../../src/log.js';
import { createSlackAdapter } from '../../adapters/slack/index.js';
import type { SlackAdapter } from '../../adapters/slack/index.js';
import { APP_TOKEN, BOT_TOKEN, FakeSlack, SIGNING_SECRET } from './fake-slack.js';
import type { RecordedCall } from './fake-slack.js';
import { closedPort } from './targets.js';
import type { ChatGate } from '../../src/chat/admission.js';
import { openGate } from '../support/open-gate.js';
import type { TargetPolicy } from '../../src/policy/target-policy.js';
import type { WatchRunner } from '../../src/chat/watch-runner.js';

export const VANTAGE = 'test-bastion';
/** Posting fast, for tests about something else than pacing (socket-mode.test checks Slack's real pace). */
export const FAST_PACE: PacerOptions = { burst: 50, perSecond: 50 };

export interface CheckCall {
  target: string;
  at: number;
}

export interface Harness {
  fake: FakeSlack;
  adapter: SlackAdapter;
  /** Raw log lines, exactly as the adapter logged them. */
  logs: string[];
  /** Every check the adapter asked the engine for. */
  checks: CheckCall[];
  config: SlackConfig;
  close(): Promise<void>;
}

export interface HarnessOptions {
  mode?: 'socket' | 'http';
  pace?: PacerOptions;
  /** The engine instead of the in-process one (a RoutedNatsEngine: bastions through the broker). */
  engine?: EngineClient;
  /** Wraps the engine client the adapter gets (to gate or observe it). */
  wrapEngine?: (inner: EngineClient) => EngineClient;
  reuseMs?: number;
  /** An already running fake Slack to use instead of a new one. */
  fake?: FakeSlack;
  /** The engine's config (diagnostics logins for the inside view). */
  engineConfig?: EngineConfig;
  /** The gate every request goes through (permissions, policy, limits, audit); an open one by default. */
  gate?: ChatGate;
  /** The in-process engine's target policy (sshcheck bot always sets one). */
  policy?: TargetPolicy;
  /** Watches (src/chat/watch-runner.ts), built on the engine the adapter gets. */
  watches?: (engine: EngineClient) => WatchRunner;
  /** The Slack client's timeout for one request (the adapter's default otherwise). */
  requestTimeoutMs?: number;
}

export function rawLogger(lines: string[]): Logger {
  const log =
    (level: string) =>
    (msg: string, fields: Record<string, unknown> = {}): void => {
      lines.push(JSON.stringify({ level, msg, ...fields }, (_k, v: unknown) => (v instanceof Error ? { message: v.message, stack: v.stack } : v)));
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const fake = options.fake ?? (await FakeSlack.start());
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-slack-'));
  const resolvConfPath = join(dir, 'resolv.conf');
  writeFileSync(resolvConfPath, 'nameserver 127.0.0.1\n');
  const dnsPort = await closedPort();
  const engineDefaults = { vantage: VANTAGE, resolvConfPath, dnsPort, extrasMs: 0, ...(options.engineConfig ? { config: options.engineConfig } : {}), ...(options.policy ? { policy: options.policy } : {}) };
  const shared: EngineClient = options.engine ?? new SharedRuns(new InProcessEngine(engineDefaults), { reuseMs: options.reuseMs ?? 0 });
  const checks: CheckCall[] = [];
  const observed: EngineClient = {
    check: (target, o) => {
      checks.push({ target: `${target.host}:${target.port}`, at: performance.now() });
      return shared.check(target, o);
    },
    // An engine with bastions (through the broker) keeps them: the chat layer then takes "via".
    ...(shared.bastions !== undefined ? { get bastions() { return shared.bastions; } } : {}),
  };
  const engine = options.wrapEngine ? options.wrapEngine(observed) : observed;
  const logs: string[] = [];
  const mode: SlackConfig['mode'] = options.mode === 'http' ? { kind: 'http', signingSecret: SIGNING_SECRET, port: 0 } : { kind: 'socket', appToken: APP_TOKEN };
  const config: SlackConfig = { botToken: BOT_TOKEN, mode, apiUrl: fake.apiUrl };
  const watches = options.watches?.(engine);
  const adapter = createSlackAdapter(config, { engine, logger: rawLogger(logs), vantage: VANTAGE, gate: options.gate ?? openGate(), ...(watches ? { watches } : {}) }, { listenHost: '127.0.0.1', pace: options.pace ?? FAST_PACE, drainMs: 30_000, ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}) });
  await adapter.start();
  return {
    fake,
    adapter,
    logs,
    checks,
    config,
    async close() {
      await watches?.close();
      await adapter.stop();
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every mrkdwn text of a recorded message: `text` and each block's. */
export function messageTexts(args: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (typeof args['text'] === 'string') out.push(args['text']);
  const blocks = args['blocks'];
  if (Array.isArray(blocks)) {
    for (const block of blocks as Array<{ text?: { text?: unknown }; elements?: Array<{ text?: unknown }> }>) {
      if (typeof block.text?.text === 'string') out.push(block.text.text);
      for (const e of block.elements ?? []) if (typeof e.text === 'string') out.push(e.text);
    }
  }
  return out;
}

export function allText(args: Record<string, unknown>): string {
  return messageTexts(args).join('\n');
}

export interface Thread {
  parent: RecordedCall;
  replies: RecordedCall[];
  parentUpdates: RecordedCall[];
}

/** The thread a check posted in `channel`: its parent, the replies under it, the parent's edits. */
export function threadIn(fake: FakeSlack, channel: string, parentThread?: string): Thread {
  const posts = fake.callsOf('chat.postMessage', channel);
  const parent = posts.find((c) => (parentThread === undefined ? c.args['thread_ts'] === undefined : c.args['thread_ts'] === parentThread));
  if (!parent) throw new Error(`no parent message in ${channel}`);
  const parentTs = parent.response['ts'];
  const replyThread = parentThread ?? parentTs;
  const replies = posts.filter((c) => c !== parent && c.args['thread_ts'] === replyThread);
  const parentUpdates = fake.callsOf('chat.update', channel).filter((c) => c.args['ts'] === parentTs);
  return { parent, replies, parentUpdates };
}

/** Waits until the adapter has asked for `n` checks and every one of them finished posting. */
export async function settled(h: Harness, n: number, timeoutMs = 30_000): Promise<void> {
  await h.fake.waitFor(() => h.checks.length >= n && h.adapter.running === 0, timeoutMs, `${n} check(s) to finish posting`);
}

/**
 * The private answer to a slash command (usage, refusal, history, "Checking…"): the command is
 * acknowledged with nothing, and the answer follows through its response_url. The first one,
 * or the `nth` (0-based) when a command is answered more than once there.
 */
export async function answerTo(fake: FakeSlack, delivery: { responseUrl: string; ack: Promise<unknown> }, nth = 0, timeoutMs = 15_000): Promise<Record<string, unknown>> {
  await delivery.ack;
  const id = delivery.responseUrl.slice(delivery.responseUrl.lastIndexOf('/') + 1);
  const mine = (): Array<{ body: Record<string, unknown> }> => fake.responses.filter((r) => r.id === id);
  await fake.waitFor(() => mine().length > nth, timeoutMs, `answer ${nth + 1} through the response_url`);
  return mine()[nth]?.body ?? {};
}

/** Answers through response_url other than the "Checking…" word: the fallbacks that carry a check. */
export function fallbacks(fake: FakeSlack): Array<{ id: string; body: Record<string, unknown> }> {
  return fake.responses.filter((r) => typeof r.body['text'] !== 'string' || !r.body['text'].startsWith('Checking '));
}
