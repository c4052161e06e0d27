// How fast /sshcheck answers in Discord, measured through the local fake Discord with the real
// discord.js client, the real adapter (with Discord's pacing) and the real probe engine on a
// closed loopback port: from INTERACTION_CREATE on the gateway to
//   - the interaction response (POST /interactions/{id}/{token}/callback arrives),
//   - the thread creation (POST /channels/{channel}/messages/{parent}/threads arrives),
//   - the parent edit that carries the diagnosis (PATCH …/messages/@original arrives).
// Each run waits for the previous check to finish, so runs do not share anything but the
// process. Usage: node dist/bench/discord-latency.js [--runs 20]
import type { CheckOptions, CheckResult, EngineClient } from '../src/chat/engine-client.js';
import type { Target } from '../src/target.js';
import { callsSince, checkDone, startHarness } from '../test/discord/harness.js';
import { median } from './stats.js';

function parseRuns(argv: readonly string[]): number {
  const i = argv.indexOf('--runs');
  if (i < 0) return 20;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error('--runs takes a number from 1 to 1000');
  return n;
}

const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;

async function main(): Promise<void> {
  const runs = parseRuns(process.argv.slice(2));
  const engineDiagnosedMs: number[] = [];
  const measuring = (engine: EngineClient): EngineClient => ({
    async check(target: Target, options?: CheckOptions): Promise<CheckResult> {
      const result = await engine.check(target, options);
      engineDiagnosedMs.push(result.report.diagnosedMs);
      return result;
    },
  });
  const h = await startHarness({ wrapEngine: measuring });
  const response: number[] = [];
  const thread: number[] = [];
  const diagnosis: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const i = h.fake.dispatchInteraction({ target: `127.0.0.1:${h.closedPort}` });
      await checkDone(h, i);
      const calls = callsSince(h, i);
      const callback = calls.find((c) => c.path === `/interactions/${i.id}/${i.token}/callback`);
      const threadCall = calls.find((c) => c.method === 'POST' && c.path.endsWith('/threads'));
      const diagnosed = calls.find((c) => c.method === 'PATCH' && c.path.endsWith(`${i.token}/messages/@original`) && JSON.stringify(c.body).includes('port-closed'));
      if (!callback || !threadCall || !diagnosed) throw new Error(`run ${run + 1}: a step is missing (response ${Boolean(callback)}, thread ${Boolean(threadCall)}, diagnosis ${Boolean(diagnosed)})`);
      response.push(callback.at - i.dispatchedAt);
      thread.push(threadCall.at - i.dispatchedAt);
      diagnosis.push(diagnosed.at - i.dispatchedAt);
      process.stderr.write(`run ${run + 1}/${runs}: response ${fmt(response.at(-1)!)}, thread ${fmt(thread.at(-1)!)}, diagnosis ${fmt(diagnosis.at(-1)!)}\n`);
    }
  } finally {
    await h.stop();
  }
  const row = (name: string, values: number[]): string => `| ${name} | ${fmt(median(values))} | ${fmt(Math.max(...values))} |`;
  process.stdout.write(
    [
      `Discord latency through the fake, closed loopback port, ${runs} runs (node ${process.version}, ${new Date().toISOString()})`,
      '',
      '| from INTERACTION_CREATE to | median | worst |',
      '|---|---|---|',
      row('interaction response', response),
      row('thread creation', thread),
      row('parent edited with the diagnosis', diagnosis),
      row('(engine: run start to diagnosis)', engineDiagnosedMs),
      '',
      JSON.stringify({ runs, response, thread, diagnosis, engineDiagnosedMs }),
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`discord-latency: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
