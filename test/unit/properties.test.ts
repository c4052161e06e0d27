// Properties that must hold for any input, checked with fast-check: the parsers either
// refuse with a coded error or produce something that satisfies their invariants, and
// chat rendering never lets markup through, whatever a server or a user wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isIP } from 'node:net';
import { SshcheckError } from '../../src/errors.js';
import { formatTarget, parseTarget } from '../../src/target.js';
import type { Target } from '../../src/target.js';
import { parseChatCommand } from '../../src/chat/grammar.js';
import { safeText } from '../../src/chat/safe-text.js';
import { parseVerbose, phaseLines } from '../../src/engine/probes/parse-openssh-verbose.js';
import { explainLog } from '../../src/explain/explain.js';
import { STEP_IDS } from '../../src/engine/report.js';

const RUNS = { numRuns: 2000 };

/** Strings that look like what people (and attackers) type: target-ish pieces and hostile bytes. */
const pieces = fc.constantFrom(
  'db-3', 'a', '.', '-', '_', ':', '@', '[', ']', '22', '2222', '65536', '0', '10.0.0.5', '127.1', '0x7f', '::1', '2001:db8::1',
  'ops', 'root', ' ', '\t', '\n', '\u0000', '\u202e', '\u200b', 'é', 'а', ';', '$(', ')', '`', '|', '&', '<', '>', "'", '"', '*', '~', '\\',
  '-oProxyCommand=', 'xn--', 'example.com', '..', 'a'.repeat(64), 'from', 'via', 'help', 'eu-1', '203.0.113.7',
);
const typed = fc.array(pieces, { maxLength: 12 }).map((p) => p.join(''));
const anyText = fc.oneof(typed, fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }));

function assertTargetInvariants(t: Target): void {
  assert.ok(!t.host.startsWith('-'), `host ${JSON.stringify(t.host)} starts with "-"`);
  if (t.kind === 'name') assert.match(t.host, /^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$/);
  else assert.ok(isIP(t.host) !== 0, `${t.host} is an IP literal`);
  assert.ok(Number.isInteger(t.port) && t.port >= 1 && t.port <= 65535);
  // A login name, possibly a directory one (alice@corp.example; the last "@" of a target is
  // the host's): never an option, never a shell or control character, bounded.
  assert.match(t.user, /^[A-Za-z_][A-Za-z0-9._@-]{0,63}$/);
  assert.ok(!t.user.includes('@') || /^[A-Za-z_][A-Za-z0-9._-]{0,31}(?:@[A-Za-z0-9][A-Za-z0-9._-]*)+$/.test(t.user), `user ${JSON.stringify(t.user)}: a POSIX name, then @domain parts`);
}

test('parseTarget: a coded refusal or a safe target, and a target written back parses to itself', () => {
  fc.assert(
    fc.property(anyText, (text) => {
      let t: Target;
      try {
        t = parseTarget(text);
      } catch (err) {
        assert.ok(err instanceof SshcheckError, `non-coded error for ${JSON.stringify(text)}: ${String(err)}`);
        assert.doesNotMatch(err.message, /[\u0000-\u0008\u000b-\u001f\u202e]/, 'messages are printable');
        return;
      }
      assertTargetInvariants(t);
      const again = parseTarget(`${t.user}@${formatTarget(t, true)}`);
      assert.deepEqual({ ...again, input: '' }, { ...t, input: '' });
    }),
    RUNS,
  );
});

test('parseTarget: shell, control and bidi characters are always refused', () => {
  const bad = fc.constantFrom(';', '$', '`', '|', '&', '<', '>', "'", '"', ' ', '\n', '\u0000', '\u202e', '*', '\\', '(', ')');
  fc.assert(
    fc.property(typed, bad, typed, (a, b, c) => {
      assert.throws(() => parseTarget(`${a}${b}${c}`), SshcheckError);
    }),
    RUNS,
  );
});

test('parseChatCommand: help, a safe check, or a coded usage error; "from" is always an IP address', () => {
  fc.assert(
    fc.property(anyText, (text) => {
      let command;
      try {
        command = parseChatCommand(text, { bastions: ['eu-1'] });
      } catch (err) {
        assert.ok(err instanceof SshcheckError, `non-coded error for ${JSON.stringify(text)}: ${String(err)}`);
        return;
      }
      if (command.kind === 'help') return;
      assertTargetInvariants(command.target);
      if (command.from !== undefined) assert.ok(isIP(command.from) !== 0);
      if (command.via !== undefined) assert.equal(command.via, 'eu-1');
    }),
    RUNS,
  );
});

const logLine = fc.oneof(
  fc.constantFrom(
    'debug1: Connecting to db-3 [10.0.0.5] port 22.',
    'debug1: Connection established.',
    'debug1: Remote protocol version 2.0, remote software version OpenSSH_9.2p1',
    'debug1: SSH2_MSG_KEXINIT sent',
    'debug1: expecting SSH2_MSG_KEX_ECDH_REPLY',
    'debug1: Authentications that can continue: publickey',
    'ssh: connect to host db-3 port 22: Connection timed out',
    'kex_exchange_identification: read: Connection reset by peer',
    'debug1: kex_exchange_identification: banner line 0: Exceeded MaxStartups',
    'Unable to negotiate with 10.0.0.5 port 22: no matching key exchange method found. Their offer: x',
    'Received disconnect from 10.0.0.5 port 22:2: Too many authentication failures',
  ),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

test('parseVerbose, phaseLines and explainLog never throw; phase lines are bounded and printable', () => {
  fc.assert(
    fc.property(fc.array(logLine, { maxLength: 40 }), (lines) => {
      const parse = parseVerbose(lines.map((text, t) => ({ t, text })));
      const shown = phaseLines(parse);
      assert.ok(shown.length <= 20);
      for (const line of shown) {
        assert.ok(line.length <= 100, `${line.length} > 100`);
        assert.doesNotMatch(line, /[\u0000-\u001f\u007f]/);
      }
      const e = explainLog(lines.join('\n'));
      assert.ok((STEP_IDS as readonly string[]).includes(e.step));
    }),
    { numRuns: 1000 },
  );
});

/** Markup outside code spans, where chat clients would act on it. */
function outsideCode(text: string): string {
  return text.replace(/`[^`]*`/g, '');
}

test('safeText: nothing outside code can mention, link or format, in either dialect', () => {
  const hostile = fc.array(
    fc.oneof(pieces, fc.constantFrom('<!channel>', '@everyone', '@here', '<@U123>', '<#C1>', '<https://e.x|y>', '[x](https://e.x)', 'https://evil.example', 'evil.example', '*b*', '_i_', '~s~', '||sp||', ':smile:', '```', '`cmd`', '> quote', '# head', '&amp;')),
    { maxLength: 15 },
  );
  fc.assert(
    fc.property(hostile.map((p) => p.join(' ')), fc.constantFrom('slack' as const, 'discord' as const), (text, dialect) => {
      const out = safeText(text, dialect);
      assert.equal((out.match(/`/g) ?? []).length % 2, 0, `unbalanced backticks: ${out}`);
      const live = outsideCode(out);
      assert.doesNotMatch(live, /[@<>*_~|\\`]|:\/\/|\.[A-Za-z]{2,}|:[A-Za-z0-9_+-]+:|\]\(/, `${dialect}: ${out}`);
      if (dialect === 'slack') assert.doesNotMatch(out, /<[!@#]|<https?:/, 'Slack control sequences are escaped even inside code');
    }),
    RUNS,
  );
});
