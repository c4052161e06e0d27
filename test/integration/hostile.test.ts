// Hostile input, table-driven, each row asserting the exact outcome:
//  A. target strings given to the real CLI binary: exit 2, a message that says what is
//     accepted, nothing on stdout, nothing spawned (a canary an injection would create);
//  B. hostile servers on loopback, probed by the real engine: the exact cause, within the
//     run's budget, and nothing the server sent turns into a mention, link or formatting in
//     either chat rendering (or an escape sequence on a terminal).
// Chat requests (forged signatures, replays, oversized payloads) are rows of their own in
// test/slack/hostile-requests.test.ts, next to the fake Slack they need.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/engine/run.js';
import { parseTarget } from '../../src/target.js';
import type { Cause, Report } from '../../src/engine/report.js';
import { renderReport } from '../../src/cli/render-text.js';
import { finishedParent, initialParent } from '../../src/chat/views.js';
import { renderParent as slackParent, renderStep as slackStep } from '../../adapters/slack/render.js';
import { renderParent as discordParent, renderStep as discordStep } from '../../adapters/discord/render.js';
import { findUnsafeMarkup } from '../slack/markup-check.js';
import { liveMarkup, strings } from '../discord/markup.js';
import type { Json } from '../discord/fake-discord.js';
import { startHostileServer } from '../support/hostile-servers.js';
import type { Behaviour } from '../support/hostile-servers.js';

const CLI = fileURLToPath(new URL('../../../bin/sshcheck.js', import.meta.url));
const canary = join(tmpdir(), `sshcheck-hostile-canary-${process.pid}`);

// ---- A. target strings -------------------------------------------------------------------

const targets: Array<[string, string[], RegExp]> = [
  ['option injection', [`-oProxyCommand=touch ${canary}`], /Unknown option '-o'/],
  ['option injection after --', ['--', `-oProxyCommand=touch ${canary}`], /starts with "-"/],
  ['option injection as the user', ['-l', '-oProxyCommand=x', 'db-3'], /argument is ambiguous/],
  ['option injection in user@', [`-oProxyCommand=x@db-3`], /Unknown option '-o'/],
  ['a user that is an option', ['--', '-x@db-3'], /starts with "-"/],
  ['command substitution', [`$(touch ${canary})`], /contains "\$"/],
  ['backticks', [`\`touch ${canary}\``], /contains "`"/],
  ['a semicolon', ['db-3;touch /tmp/x'], /contains ";"/],
  ['a pipe', ['db-3|nc'], /contains "\|"/],
  ['an ampersand', ['db-3&'], /contains "&"/],
  ['a redirect', ['db-3>/etc/passwd'], /contains ">"/],
  ['a quote', ["db-3'"], /contains "'"/],
  ['a space', ['db 3'], /whitespace/],
  ['a tab', ['db\t3'], /control character/],
  ['a newline', ['db-3\ntouch'], /control character/],
  ['a DEL', ['db-3\u007fx'], /control character/],
  ['an escape sequence', ['db-3\u001b[31m'], /control character/],
  ['a bidi override', ['db\u202e3'], /bidirectional/],
  ['a zero-width space', ['db\u200b3'], /U\+200B/],
  ['a Cyrillic look-alike (IDN trick)', ['gооgle.com'], /xn-- form/],
  ['an accented name', ['exämple.com'], /xn-- form/],
  ['a 64-character label', [`${'a'.repeat(64)}.example`], /at most 63/],
  ['a 300-character name', [`${'a.'.repeat(150)}com`], /DNS allows at most 253/],
  ['an empty label', ['db..3'], /empty label/],
  ['a trailing hyphen label', ['db-.example'], /start and end with a letter or digit/],
  ['a short-form IPv4', ['127.1'], /dotted-quad/],
  ['a hex IPv4', ['0x7f.1'], /dotted-quad/],
  ['a decimal IPv4', ['2130706433'], /dotted-quad/],
  ['an out-of-range IPv4', ['999.1.1.1'], /dotted-quad/],
  ['port zero', ['db-3:0'], /1 to 65535/],
  ['port too big', ['db-3:65536'], /1 to 65535/],
  ['a negative port option', ['-p', '-1', 'db-3'], /argument is ambiguous|invalid port/],
  ['a non-numeric port', ['db-3:ssh'], /invalid port/],
  ['a port given twice', ['-p', '22', 'db-3:2222'], /port given twice/],
  ['an unclosed IPv6 bracket', ['[2001:db8::1'], /unclosed "\["/],
  ['a broken IPv6', ['[2001:db8:::1]'], /not a valid IPv6/],
  ['an IPv6 zone id', ['[fe80::1%eth0]'], /contains "%"/],
  ['an over-long input', ['x'.repeat(400)], /at most 320 are accepted/],
  ['a hostile --from', ['--from', '$(id)', 'db-3'], /invalid --from/],
  ['a name as --from', ['--from', 'evil.example', 'db-3'], /invalid --from/],
];

describe('A. hostile targets: exit 2 before anything is probed', () => {
  // A home of its own: a refused target must not even create the store.
  const home = mkdtempSync(join(tmpdir(), 'sshcheck-hostile-home-'));
  after(() => rmSync(home, { recursive: true, force: true }));
  for (const [name, args, message] of targets) {
    test(name, () => {
      rmSync(canary, { force: true });
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 10_000, env: { PATH: process.env.PATH ?? '', HOME: home, SSHCHECK_DB: join(home, 'store', 'sshcheck.db') } });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^sshcheck: /);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr.replace(/\n$/, ''), /[\u0000-\u0009\u000b-\u001f\u202e]/, 'the message is printable');
      assert.equal(r.stdout, '');
      assert.equal(existsSync(canary), false, 'nothing was run');
      assert.deepEqual(readdirSync(home), [], 'nothing was written');
    });
  }
});

// ---- B. hostile servers ------------------------------------------------------------------

const servers: Array<[Behaviour, string, Cause]> = [
  ['endless-lines', 'an endless stream of pre-banner lines', 'not-ssh'],
  ['megabyte-line', 'a single 1 MB line', 'not-ssh'],
  ['mention-banner', 'a banner with <!channel>, @everyone, links and markdown, closed during the key exchange', 'server-dropped'],
  ['mention-prebanner', 'a greeting with mentions and links instead of SSH', 'not-ssh'],
  ['reset-mid-kex', 'a reset in the middle of the key exchange', 'server-dropped'],
  ['tls', 'a TLS server', 'connection-closed'],
  ['tarpit', 'a tarpit that trickles one byte every 300 ms', 'banner-timeout'],
  ['silent', 'a service that accepts and never speaks', 'banner-timeout'],
  ['binary', 'binary garbage', 'not-ssh'],
  ['ssh1', 'an SSH-1-only server', 'kex-failed'],
  ['http', 'an HTTP server with a hostile Server header', 'not-ssh'],
  ['close-now', 'a close right after the accept', 'connection-closed'],
  ['reset-now', 'a reset right after the accept', 'connection-closed'],
  ['long-ident', 'an identification line of 310 bytes', 'not-ssh'],
  ['nul-in-banner', 'a NUL and @everyone inside the banner, then a close', 'server-dropped'],
  ['garbage-after-banner', 'garbage with mentions after a valid banner', 'protocol-violation'],
  ['hostile-disconnect', 'a DISCONNECT whose text carries mentions and an escape sequence', 'server-dropped'],
];

const BUDGET_MS = 4000;
let dir: string;
let resolvConf: string;
let closedPort: number;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sshcheck-hostile-'));
  resolvConf = join(dir, 'resolv.conf');
  writeFileSync(resolvConf, 'nameserver 127.0.0.1\n');
  const probe = createServer();
  closedPort = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as AddressInfo).port)));
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function chatRenderings(report: Report): { slack: unknown[]; discord: Json[] } {
  const parent = finishedParent(initialParent(parseTarget(`127.0.0.1:${report.target.port}`), report.vantage.name, '<@U999>'), report);
  return {
    slack: [slackParent(parent), ...report.steps.map(slackStep)],
    discord: [discordParent(parent), ...report.steps.map(discordStep)] as unknown as Json[],
  };
}

describe('B. hostile servers: the exact cause, within the budget, nothing live in chat', () => {
  for (const [behaviour, name, cause] of servers) {
    test(name, async () => {
      const server = await startHostileServer(behaviour);
      try {
        const started = performance.now();
        const report = await run(parseTarget(`127.0.0.1:${server.port}`), {
          vantage: 'test-bastion',
          resolvConfPath: resolvConf,
          dnsPort: closedPort,
          extrasMs: 0,
          budgetMs: BUDGET_MS,
          // A shorter banner wait keeps the silent cases quick; the verdict is the same.
          thresholds: { bannerTimeoutMs: 2000 },
        });
        const took = performance.now() - started;
        assert.equal(report.diagnosis.cause, cause, report.diagnosis.summary);
        assert.ok(report.durationMs <= BUDGET_MS && took < BUDGET_MS + 500, `bounded: ${Math.round(took)} ms`);
        const { slack, discord } = chatRenderings(report);
        assert.deepEqual(findUnsafeMarkup(slack, ['<@U999>']), [], 'Slack');
        const live = discord.flatMap((embed) => strings(embed)).flatMap((s) => liveMarkup(s, ['<@U999>']));
        assert.deepEqual(live, [], 'Discord');
        assert.doesNotMatch(renderReport(report, { color: false }), /[\u0000-\u0008\u000b-\u001f\u007f]/, 'no escape sequences reach a terminal');
      } finally {
        await server.close();
      }
    });
  }
});
