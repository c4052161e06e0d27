// What the NATS path costs, on loopback: the time from asking for a check to its diagnosis
// and to its report, with the engine in this process versus through a real nats-server and
// a real `sshcheck agent` (NatsEngine client, as the bot and `sshcheck --nats` use it).
// Same target (a closed loopback port: the engine's fastest verdict, so the overhead is not
// lost in probe time), N sequential runs each, reuse off. Then a burst of concurrent checks
// spread over 4 bastions × 2 agents, counting any that are lost.
// Usage: node dist/bench/nats-overhead.js [--runs 20] [--burst 200]
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseEngineConfig } from '../src/config/engine-config.js';
import { run } from '../src/engine/run.js';
import { parseTarget } from '../src/target.js';
import { NatsEngine } from '../src/nats/engine.js';
import { openBroker } from '../src/nats/connect.js';
import { natsSettings } from '../src/nats/options.js';
import { CLI } from '../test/lab/lab.js';
import { freePort, natsUnavailable, TestBroker } from '../test/support/nats-server.js';
import { median, quantile } from './stats.js';

interface Timed {
  toDiagnosisMs: number;
  totalMs: number;
  cause: string;
}

const ms = (n: number): string => n.toFixed(1).padStart(6);

function startAgent(url: string, bastion: string, name: string, dir: string, maxRuns: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'agent', '--nats', url, '--bastion', bastion, '--agent', name, '--config', join(dir, 'engine.yml'), '--reuse', '0', '--max-runs', String(maxRuns)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '', SSHCHECK_DB: join(dir, `${name}.db`) },
  });
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`agent ${name} did not start: ${err.slice(-400)}`)), 30_000);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('"msg":"serving checks"')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`agent ${name} exited ${code}: ${err}`)));
  });
}

async function main(): Promise<void> {
  const why = natsUnavailable();
  if (why) {
    console.error(`bench: ${why}`);
    process.exitCode = 2;
    return;
  }
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, burst: { type: 'string', default: '200' }, out: { type: 'string' } } });
  const runs = Number(values.runs);
  const burst = Number(values.burst);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new Error('--runs must be 1-100');
  if (!Number.isInteger(burst) || burst < 0 || burst > 400) throw new Error('--burst must be 0-400');
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-bench-nats-'));
  const children: ChildProcess[] = [];
  const broker = await TestBroker.start();
  try {
    writeFileSync(join(dir, 'engine.yml'), 'policy:\n  allow: [127.0.0.1/32]\n');
    const engineConfig = parseEngineConfig(readFileSync(join(dir, 'engine.yml'), 'utf8'));
    const closed = await freePort();
    const target = parseTarget(`127.0.0.1:${closed}`);
    const bastions = ['b1', 'b2', 'b3', 'b4'];
    for (const b of bastions) for (const n of [1, 2]) children.push(await startAgent(broker.url, b, `${b}-a${n}`, dir, 64));
    const settings = natsSettings(broker.url, {}, (p) => readFileSync(p, 'utf8'), 'bench');
    if (!settings) throw new Error('no settings');
    const nc = await openBroker(settings, { wait: false });
    const engine = new NatsEngine(nc, { url: broker.url });
    const timeOne = async (mode: 'in-process' | 'nats'): Promise<Timed> => {
      const start = performance.now();
      let diagnosed = NaN;
      const onEvent = (e: { type: string }): void => {
        if (e.type === 'diagnosis' && Number.isNaN(diagnosed)) diagnosed = performance.now() - start;
      };
      const report =
        mode === 'nats'
          ? (await engine.check(target, { via: 'b1', onEvent })).report
          : await run(target, { vantage: 'b1', policy: engineConfig.policy, config: engineConfig, onEvent });
      return { toDiagnosisMs: diagnosed, totalMs: performance.now() - start, cause: report.diagnosis.cause };
    };
    const rows: Record<string, Timed[]> = {};
    for (const mode of ['in-process', 'nats'] as const) {
      await timeOne(mode); // warm-up, not counted
      const list: Timed[] = [];
      for (let i = 0; i < runs; i++) list.push(await timeOne(mode));
      rows[mode] = list;
      const d = list.map((r) => r.toDiagnosisMs);
      console.log(`${mode.padEnd(10)} to diagnosis median ${ms(median(d))} ms (min ${ms(Math.min(...d))}, max ${ms(Math.max(...d))}) | to report median ${ms(median(list.map((r) => r.totalMs)))} ms | ${list.filter((r) => r.cause === 'port-closed').length}/${runs} port-closed`);
    }
    const overheadDiagnosis = median((rows.nats ?? []).map((r) => r.toDiagnosisMs)) - median((rows['in-process'] ?? []).map((r) => r.toDiagnosisMs));
    const overheadReport = median((rows.nats ?? []).map((r) => r.totalMs)) - median((rows['in-process'] ?? []).map((r) => r.totalMs));
    console.log(`NATS overhead, median: ${overheadDiagnosis.toFixed(1)} ms to diagnosis, ${overheadReport.toFixed(1)} ms to report (goal ≤ 10 ms)`);

    // The burst: distinct targets (one closed port each, so no single flight merges them).
    let lost = 0;
    const errors = new Map<string, number>();
    const latencies: number[] = [];
    if (burst > 0) {
      const ports = await Promise.all(Array.from({ length: burst }, () => freePort()));
      const start = performance.now();
      await Promise.all(
        ports.map(async (port, i) => {
          const t0 = performance.now();
          try {
            const { report } = await engine.check(parseTarget(`127.0.0.1:${port}`), { via: bastions[i % bastions.length] ?? 'b1' });
            if (report.vantage.name !== bastions[i % bastions.length]) throw new Error(`answered by ${report.vantage.name}`);
            latencies.push(performance.now() - t0);
          } catch (err) {
            lost += 1;
            const key = (err instanceof Error ? err.message : String(err)).replace(/[0-9]+/g, 'N').slice(0, 160);
            errors.set(key, (errors.get(key) ?? 0) + 1);
          }
        }),
      );
      const wall = performance.now() - start;
      console.log(`burst: ${burst} concurrent checks over ${bastions.length} bastions × 2 agents: ${burst - lost} answered, ${lost} lost, in ${(wall / 1000).toFixed(1)} s; per check median ${median(latencies).toFixed(0)} ms, p95 ${quantile(latencies, 0.95).toFixed(0)} ms`);
      for (const [message, count] of errors) console.log(`  lost ×${count}: ${message}`);
    }
    engine.close();
    await nc.close();
    const out = values.out ?? `bench/results/nats-overhead-${new Date().toISOString().slice(0, 10)}.json`;
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(
      out,
      JSON.stringify({ date: new Date().toISOString(), machine: { host: hostname(), cpus: cpus().length, node: process.version }, runs, overheadDiagnosisMs: overheadDiagnosis, overheadReportMs: overheadReport, rows, burst: { checks: burst, lost, medianMs: median(latencies), p95Ms: quantile(latencies, 0.95), errors: Object.fromEntries(errors) } }, null, 2) + '\n',
    );
    console.log(`written ${out}`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await broker.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
