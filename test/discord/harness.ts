// Shared setup for the Discord adapter's tests and benchmark: the fake Discord, the real
// probe engine confined to loopback (resolv.conf names 127.0.0.1, reverse lookups go to a
// closed loopback port), the real adapter with the real discord.js client, and a logger
// that keeps every line for inspection.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChatAdapter } from '../../src/chat/adapter.js';
import type { DiscordConfig } from '../../src/chat/bot-config.js';
import type { EngineClient } from '../../src/chat/engine-client.js';
import { InProcessEngine } from '../../src/chat/engine-client.js';
import { SharedRuns } from '../../src/chat/shared-runs.js';
import type { EngineConfig } from '../../src/config/engine-config.js';
import type { Logger } from '../../src/log.js';
import { createDiscordAdapter } from '../../adapters/discord/index.js';
import type { DiscordAdapterOptions } from '../../adapters/discord/index.js';
import { FakeDiscord } from './fake-discord.js';
import type { ChatGate } from '../../src/chat/admission.js';
import { openGate } from '../support/open-gate.js';
import type { WatchRunner } from '../../src/chat/watch-runner.js';
import type { TargetPolicy } from '../../src/policy/target-policy.js';
import type { DispatchedInteraction, JsonObject, RecordedCall, StoredMessage } from './fake-discord.js';

export interface LogEntry {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** Keeps every entry as logged: no scrubbing, so a leak would show. */
export class MemoryLogger implements Logger {
  readonly entries: LogEntry[] = [];
  debug(msg: string, fields: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'debug', msg, fields });
  }
  info(msg: string, fields: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'info', msg, fields });
  }
  warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'warn', msg, fields });
  }
  error(msg: string, fields: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'error', msg, fields });
  }
  text(): string {
    return this.entries.map((e) => JSON.stringify(e)).join('\n');
  }
  async waitFor(match: (e: LogEntry) => boolean, timeoutMs = 30_000): Promise<LogEntry> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.entries.find(match);
      if (found) return found;
      if (performance.now() > deadline) throw new Error('timed out waiting for a log entry');
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

export function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A loopback port nobody listens on. */
export async function closedPort(): Promise<number> {
  const probe = createServer();
  const port = await listen(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A TCP service that sends `text` and closes: a hostile "SSH server". */
export async function talker(text: string): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.end(text);
  });
  const port = await listen(server);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface Harness {
  fake: FakeDiscord;
  logger: MemoryLogger;
  engine: SharedRuns;
  adapter: ChatAdapter;
  config: DiscordConfig;
  closedPort: number;
  stop(): Promise<void>;
}

export interface HarnessOptions extends DiscordAdapterOptions {
  heartbeatIntervalMs?: number;
  /** Wraps the engine (to slow it down, for instance). */
  wrapEngine?: (engine: EngineClient) => EngineClient;
  /** The engine's config (diagnostics logins for the inside view). */
  engineConfig?: EngineConfig;
  /** The gate every request goes through (permissions, policy, limits, audit); an open one by default. */
  gate?: ChatGate;
  /** The in-process engine's target policy (sshcheck bot always sets one). */
  policy?: TargetPolicy;
  /** Roles the fake guild has besides @everyone. */
  guildRoles?: string[];
  /** Watches (src/chat/watch-runner.ts), built on the engine the adapter gets. */
  watches?: (engine: EngineClient) => WatchRunner;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-discord-'));
  const resolvConf = join(dir, 'resolv.conf');
  writeFileSync(resolvConf, 'nameserver 127.0.0.1\n');
  const dnsPort = await closedPort();
  const fake = new FakeDiscord();
  if (options.heartbeatIntervalMs !== undefined) fake.heartbeatIntervalMs = options.heartbeatIntervalMs;
  if (options.guildRoles) fake.guildRoles = options.guildRoles;
  await fake.start();
  const logger = new MemoryLogger();
  // reuseMs 0: every check probes, as twenty different targets would.
  const engineDefaults = { vantage: 'test-bastion', resolvConfPath: resolvConf, dnsPort, extrasMs: 0, ...(options.engineConfig ? { config: options.engineConfig } : {}), ...(options.policy ? { policy: options.policy } : {}) };
  const engine = new SharedRuns(new InProcessEngine(engineDefaults), { reuseMs: 0 });
  const config: DiscordConfig = { token: fake.token, applicationId: fake.applicationId, apiUrl: fake.apiUrl };
  const adapterOptions: DiscordAdapterOptions = {};
  if (options.pacer !== undefined) adapterOptions.pacer = options.pacer;
  const adapterEngine = options.wrapEngine ? options.wrapEngine(engine) : engine;
  const watches = options.watches?.(adapterEngine);
  const adapter = createDiscordAdapter(config, { engine: adapterEngine, logger, vantage: 'test-bastion', gate: options.gate ?? openGate(), ...(watches ? { watches } : {}) }, adapterOptions);
  await adapter.start();
  return {
    fake,
    logger,
    engine,
    adapter,
    config,
    closedPort: dnsPort,
    async stop() {
      await watches?.close();
      await adapter.stop();
      await fake.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the adapter has finished the check started by this interaction. */
export async function checkDone(h: Harness, interaction: DispatchedInteraction, timeoutMs = 60_000): Promise<void> {
  await h.logger.waitFor((e) => e.msg === 'discord check done' && e.fields.interaction === interaction.id, timeoutMs);
}

/** The messages in the thread started from the interaction's parent, if any. */
export function threadMessages(h: Harness, interaction: DispatchedInteraction): StoredMessage[] {
  const parent = h.fake.interaction(interaction.id)?.originalId;
  return parent === undefined ? [] : (h.fake.messages.get(parent) ?? []);
}

export function parentMessage(h: Harness, interaction: DispatchedInteraction): StoredMessage | undefined {
  const id = h.fake.interaction(interaction.id)?.originalId;
  return (h.fake.messages.get(interaction.channelId) ?? []).find((m) => m.id === id);
}

export interface MessageRequest {
  call: RecordedCall;
  /** The message fields sent: content, embeds, allowed_mentions, flags. */
  payload: JsonObject;
}

/** Every request that creates or edits a message, with the message part of its body. */
export function messageRequests(calls: readonly RecordedCall[]): MessageRequest[] {
  const out: MessageRequest[] = [];
  for (const call of calls) {
    const body = call.body as JsonObject | undefined;
    if (!body || Array.isArray(body)) continue;
    if (call.method === 'POST' && /^\/interactions\/\d+\/[^/]+\/callback$/.test(call.path)) {
      if (body.type === 4) out.push({ call, payload: (body.data ?? {}) as JsonObject });
    } else if (/^\/webhooks\/\d+\/[^/]+(\/messages\/[^/]+)?$/.test(call.path) && (call.method === 'POST' || call.method === 'PATCH')) {
      out.push({ call, payload: body });
    } else if (/^\/channels\/\d+\/messages(\/\d+)?$/.test(call.path) && (call.method === 'POST' || call.method === 'PATCH')) {
      out.push({ call, payload: body });
    }
  }
  return out;
}

export function callsSince(h: Harness, interaction: DispatchedInteraction): RecordedCall[] {
  return h.fake.calls.filter((c) => c.at >= interaction.dispatchedAt);
}

export interface EmbedJson {
  title?: string;
  description?: string;
  fields?: Array<{ name: string; value: string }>;
}

export function embedsOf(payload: JsonObject | StoredMessage | undefined): EmbedJson[] {
  return (payload?.embeds ?? []) as unknown as EmbedJson[];
}
