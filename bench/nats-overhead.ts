// What the NATS path costs, on loopback: the time from asking for a check to its diagnosis
// and to its report, with the engine in this process versus through a real nats-server and
// a real `sshcheck agent` (NatsEngine client, as the bot and `sshcheck --nats` use it).
// Same target (a closed loopback port: the engine's fastest verdict, so the overhead is not
// lost in probe time), N sequential runs each, reuse off. Then a burst of concurrent chat
// commands spread over 4 bastions × 2 agents, counting any that are lost.
// The two modes alternate run by run, so a change in the shared machine's load hits both.
// --trace: the b1 agents log each check's stages at debug level, and the sequential NATS
// runs are broken down stage by stage (wall-clock times of both processes on one machine).
// Usage: node dist/bench/nats-overhead.js [--runs 20] [--burst 200] [--trace]
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseEngineConfig } from '../src/config/engine-config.js';
import { run } from '../src/engine/run.js';
import type { ProgressEvent } from '../src/engine/report.js';
import { parseTarget } from '../src/target.js';
import { NatsEngine } from '../src/nats/engine.js';
import { openBroker } from '../src/nats/connect.js';
import { natsSettings } from '../src/nats/options.js';
import { CLI } from '../test/lab/lab.js';
import { freePort, natsUnavailable, TestBroker } from '../test/support/nats-server.js';
import { median, quantile } from './stats.js';
import { chatLoad } from './chat-load.js';
import type { ChatLoadResult } from './chat-load.js';
import { RoutedNatsEngine } from '../src/nats/bot-engine.js';
import { FAST_PACE } from '../test/slack/harness.js';

interface Timed {
  toDiagnosisMs: number;
  totalMs: number;
  cause: string;
  /** The diagnosis event's and the report's own times, from the engine's start. */
  engineDiagnosisMs: number;
  engineTotalMs: number;
  /** Wall-clock times (wallMs) of the request, each first event of a type and the end. */
  sentAt: number;
  got: Record<string, number>;
  doneAt: number;
}

/**
 * The stages of the sequential NATS runs, each as the median time after the client sent
 * its check: the agent's debug lines (one check at a time, so they follow in order) and
 * the client's own receipts.
 */
function breakdown(list: readonly Timed[], agentLog: string): Record<string, number> {
  const checks = new Map<string, Record<string, number>>();
  for (const line of agentLog.split('\n')) {
    if (!line.includes('"msg":"check stage"')) continue;
    const entry = JSON.parse(line) as { reply: string; stage: string; atMs: number };
    const stages = checks.get(entry.reply) ?? {};
    stages[entry.stage] ??= entry.atMs;
    checks.set(entry.reply, stages);
  }
  const ordered = [...checks.values()].sort((a, b) => (a.received ?? 0) - (b.received ?? 0));
  const stages: Record<string, number[]> = {};
  const add = (name: string, value: number | undefined): void => void (value !== undefined && (stages[name] ??= []).push(value));
  for (const timed of list) {
    // The agent's check received in this run's window.
    const agent = ordered.find((c) => (c.received ?? 0) >= timed.sentAt && (c.received ?? 0) <= timed.doneAt);
    if (!agent) continue;
    const at = (t: number | undefined): number | undefined => (t === undefined ? undefined : t - timed.sentAt);
    add('agent: received', at(agent.received));
    add('agent: admitted (policy, capacity)', at(agent.admitted));
    add('agent: audit row written', at(agent.recorded));
    add('agent: run registered', at(agent.started));
    add('agent: sent run-started', at(agent['sent run-started']));
    add('client: got run-started', at(timed.got['run-started']));
    add('agent: sent diagnosis', at(agent['sent diagnosis']));
    add('client: got diagnosis', at(timed.got.diagnosis));
    add('agent: sent run-finished', at(agent['sent run-finished']));
    add('client: got run-finished', at(timed.got['run-finished']));
    add('client: check resolved', at(timed.doneAt));
  }
  return Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, median(v)]));
}

const ms = (n: number): string => n.toFixed(1).padStart(6);

/** Wall-clock milliseconds with sub-millisecond precision, comparable between processes of one machine. */
const wallMs = (): number => performance.timeOrigin + performance.now();

interface Agent {
  child: ChildProcess;
  /** Its stderr so far (the debug stage lines when traced). */
  log: () => string;
}

function startAgent(url: string, bastion: string, name: string, dir: string, maxRuns: number, debug: boolean): Promise<Agent> {
  const child = spawn(process.execPath, [CLI, 'agent', '--nats', url, '--bastion', bastion, '--agent', name, '--config', join(dir, 'engine.yml'), '--reuse', '0', '--max-runs', String(maxRuns), '--log-level', debug ? 'debug' : 'info'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // The environment the in-process engine has (this process's), so that the two modes
    // differ only in the path between client and engine.
    env: { ...process.env, SSHCHECK_DB: join(dir, `${name}.db`) },
  });
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`agent ${name} did not start: ${err.slice(-400)}`)), 30_000);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('"msg":"serving checks"')) {
        clearTimeout(timer);
        resolve({ child, log: () => err });
      }
    });
    child.once('exit', (code) => reject(new Error(`agent ${name} exited ${code}: ${err}`)));
  });
}

function silenceStats(gaps: readonly number[]): { checks: number; p50Ms: number; p99Ms: number; worstMs: number; over1s: number } {
  return { checks: gaps.length, p50Ms: median(gaps), p99Ms: quantile(gaps, 0.99), worstMs: Math.max(...gaps), over1s: gaps.filter((g) => g > 1_000).length };
}

/** bench/silence-monitor.ts in a process of its own: stop() ends it and gives each check's longest gap. */
async function startSilenceMonitor(url: string): Promise<{ stop: () => Promise<number[]> }> {
  const child = fork(fileURLToPath(new URL('./silence-monitor.js', import.meta.url)), [url], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  const next = (): Promise<{ ready?: boolean; gaps?: number[] }> =>
    new Promise((resolve, reject) => {
      child.once('message', (m) => resolve(m as { ready?: boolean; gaps?: number[] }));
      child.once('exit', (code) => reject(new Error(`the silence monitor exited (${code})`)));
    });
  await next();
  return {
    stop: async () => {
      const answer = next();
      child.send('stop');
      return (await answer).gaps ?? [];
    },
  };
}

async function main(): Promise<void> {
  const why = natsUnavailable();
  if (why) {
    console.error(`bench: ${why}`);
    process.exitCode = 2;
    return;
  }
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, burst: { type: 'string', default: '200' }, out: { type: 'string' }, trace: { type: 'boolean', default: false } } });
  const runs = Number(values.runs);
  const burst = Number(values.burst);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new Error('--runs must be 1-100');
  if (!Number.isInteger(burst) || burst < 0 || burst > 400) throw new Error('--burst must be 0-400');
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-bench-nats-'));
  const agents: Agent[] = [];
  const broker = await TestBroker.start();
  const loadBefore = loadavg();
  try {
    writeFileSync(join(dir, 'engine.yml'), 'policy:\n  allow: [127.0.0.1/32]\n');
    const engineConfig = parseEngineConfig(readFileSync(join(dir, 'engine.yml'), 'utf8'));
    const closed = await freePort();
    const target = parseTarget(`127.0.0.1:${closed}`);
    const bastions = ['b1', 'b2', 'b3', 'b4'];
    for (const b of bastions) for (const n of [1, 2]) agents.push(await startAgent(broker.url, b, `${b}-a${n}`, dir, 64, values.trace === true && b === 'b1'));
    const settings = natsSettings(broker.url, {}, (p) => readFileSync(p, 'utf8'), 'bench');
    if (!settings) throw new Error('no settings');
    const nc = await openBroker(settings, { wait: false });
    const engine = new NatsEngine(nc, { url: broker.url });
    const timeOne = async (mode: 'in-process' | 'nats'): Promise<Timed> => {
      const sentAt = wallMs();
      const start = performance.now();
      let diagnosed = NaN;
      let engineDiagnosisMs = NaN;
      const got: Record<string, number> = {};
      const onEvent = (e: ProgressEvent): void => {
        got[e.type] ??= wallMs();
        if (e.type === 'diagnosis' && Number.isNaN(diagnosed)) {
          diagnosed = performance.now() - start;
          engineDiagnosisMs = e.elapsedMs;
        }
      };
      const report =
        mode === 'nats'
          ? (await engine.check(target, { via: 'b1', onEvent })).report
          : await run(target, { vantage: 'b1', policy: engineConfig.policy, config: engineConfig, onEvent });
      return { toDiagnosisMs: diagnosed, totalMs: performance.now() - start, cause: report.diagnosis.cause, engineDiagnosisMs, engineTotalMs: report.durationMs, sentAt, got, doneAt: wallMs() };
    };
    const rows: Record<'in-process' | 'nats', Timed[]> = { 'in-process': [], nats: [] };
    await timeOne('in-process'); // warm-ups, not counted
    await timeOne('nats');
    for (let i = 0; i < runs; i++) {
      // Alternating which goes first, so neither always follows the other's clean-up.
      const order = i % 2 === 0 ? (['in-process', 'nats'] as const) : (['nats', 'in-process'] as const);
      for (const mode of order) rows[mode].push(await timeOne(mode));
    }
    for (const mode of ['in-process', 'nats'] as const) {
      const list = rows[mode];
      const d = list.map((r) => r.toDiagnosisMs);
      console.log(`${mode.padEnd(10)} to diagnosis median ${ms(median(d))} ms (min ${ms(Math.min(...d))}, max ${ms(Math.max(...d))}; engine's own ${ms(median(list.map((r) => r.engineDiagnosisMs)))}) | to report median ${ms(median(list.map((r) => r.totalMs)))} ms (engine's own ${ms(median(list.map((r) => r.engineTotalMs)))}) | ${list.filter((r) => r.cause === 'port-closed').length}/${runs} port-closed`);
    }
    const overheadDiagnosis = median(rows.nats.map((r) => r.toDiagnosisMs)) - median(rows['in-process'].map((r) => r.toDiagnosisMs));
    const overheadReport = median(rows.nats.map((r) => r.totalMs)) - median(rows['in-process'].map((r) => r.totalMs));
    // What the trip adds beyond the engine's own time, run by run (the engine's time to a
    // closed port's verdict varies more between runs than the broker does).
    const transportDiagnosis = median(rows.nats.map((r) => r.toDiagnosisMs - r.engineDiagnosisMs));
    const transportReport = median(rows.nats.map((r) => r.totalMs - r.engineTotalMs));
    const inProcessExtra = median(rows['in-process'].map((r) => r.totalMs - r.engineTotalMs));
    console.log(`NATS overhead, median: ${overheadDiagnosis.toFixed(1)} ms to diagnosis, ${overheadReport.toFixed(1)} ms to report (goal ≤ 10 ms); outside the engine's own time: ${transportDiagnosis.toFixed(1)} ms to diagnosis, ${transportReport.toFixed(1)} ms to report (in process ${inProcessExtra.toFixed(1)} ms)`);
    const trace = values.trace === true ? breakdown(rows.nats, agents.slice(0, 2).map((a) => a.log()).join('')) : undefined;
    if (trace) for (const [stage, at] of Object.entries(trace)) console.log(`  trace ${stage.padEnd(34)} median ${ms(at)} ms after the client sent the check`);

    // The burst: as many concurrent chat commands, each through the chat layer as a Slack
    // command goes (real Bolt in Socket Mode against the fake Slack, the real gate, single
    // flight and routing by "via"), to distinct targets (one closed port each, so no single
    // flight merges them) over 4 bastions × 2 agents. Every command must be answered: a
    // report, or a refusal or failure said in its thread; "lost" is a command with no answer.
    let chat: ChatLoadResult | undefined;
    let silences: { checks: number; p50Ms: number; p99Ms: number; worstMs: number; over1s: number } | undefined;
    let monitored: typeof silences;
    if (burst > 0) {
      await engine.watchAgents(500);
      // The agents' silences: every message on a check's reply subject (events and heartbeats),
      // seen by a second connection; the longest gap of each check, from "accepted" to its end.
      const seen = new Map<string, number[]>();
      const watcher = await startSilenceMonitor(broker.url);
      const monitor = nc.subscribe('_INBOX.>', { callback: (_err, msg) => void (seen.get(msg.subject) ?? seen.set(msg.subject, []).get(msg.subject))?.push(performance.now()) });
      const ports = await Promise.all(Array.from({ length: burst }, () => freePort()));
      chat = await chatLoad({ commands: burst, channels: 20, pace: FAST_PACE, engine: new RoutedNatsEngine(engine, 0), targets: ports.map((port, i) => `127.0.0.1 ${port} via ${bastions[i % bastions.length] ?? 'b1'}`), timeoutMs: 300_000 });
      console.log(`chat burst: ${burst} concurrent Slack commands over ${bastions.length} bastions × 2 agents: ${chat.complete} reports, ${burst - chat.complete - chat.lost} answered otherwise, ${chat.lost} lost, ${chat.parentsTwice} with two parents (the second ${chat.secondParentAfterMs.join(', ')} ms after the first), in ${(chat.totalMs / 1000).toFixed(1)} s; ack p99 ${chat.ackMs.p99.toFixed(0)} ms, diagnosis in the thread median ${chat.diagnosisMs.p50.toFixed(0)} ms, p99 ${chat.diagnosisMs.p99.toFixed(0)} ms`);
      for (const [text, count] of Object.entries(chat.unfinished)) console.log(`  without a report ×${count}: ${text}`);
      console.log(`  private answers (response_url) that reached Slack: ${chat.privateAnswers}`);
      for (const [text, count] of Object.entries(chat.warnings)) console.log(`  bot log ×${count}: ${text}`);
      monitor.unsubscribe();
      const gaps = [...seen.values()].filter((t) => t.length > 1).map((t) => Math.max(...t.slice(1).map((at, i) => at - (t[i] ?? at))));
      silences = silenceStats(gaps);
      monitored = silenceStats(await watcher.stop());
      for (const [who, stats] of [['seen by a process of its own', monitored], ["seen by the bench's own (busy) process", silences]] as const) {
        console.log(`  agents' longest silence per check (heartbeat every 1 s), ${who}: median ${stats.p50Ms.toFixed(0)} ms, p99 ${stats.p99Ms.toFixed(0)} ms, worst ${stats.worstMs.toFixed(0)} ms; ${stats.over1s} of ${stats.checks} checks had a silence over 1 s`);
      }
    }
    engine.close();
    await nc.close();
    const out = values.out ?? `bench/results/nats-overhead-${new Date().toISOString().slice(0, 10)}.json`;
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(
      out,
      JSON.stringify({ date: new Date().toISOString(), machine: { host: hostname(), cpus: cpus().length, node: process.version }, loadAverage: { before: loadBefore, after: loadavg() }, runs, interleaved: true, overheadDiagnosisMs: overheadDiagnosis, overheadReportMs: overheadReport, outsideEngineMs: { natsDiagnosis: transportDiagnosis, natsReport: transportReport, inProcessReport: inProcessExtra }, ...(trace ? { traceMedianMs: trace } : {}), rows, ...(chat ? { chatBurst: { ...chat, bastions: bastions.length, agentsPerBastion: 2, agentSilences: silences, agentSilencesMonitored: monitored, path: 'Slack (Bolt, Socket Mode, fake Slack) → chat gate → RoutedNatsEngine → NatsEngine → agents' } } : {}) }, null, 2) + '\n',
    );
    console.log(`written ${out}`);
  } finally {
    // Agents first, while the broker is there to drain to; each bounded.
    await Promise.all(
      agents.map(
        (a) =>
          new Promise<void>((resolve) => {
            if (a.child.exitCode !== null || a.child.signalCode !== null) return resolve();
            const timer = setTimeout(() => (a.child.kill('SIGKILL'), resolve()), 10_000);
            a.child.once('exit', () => (clearTimeout(timer), resolve()));
            a.child.kill('SIGTERM');
          }),
      ),
    );
    await broker.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
