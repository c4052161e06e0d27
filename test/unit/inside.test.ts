import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseInside, parseListeners, parseSocketAddress } from '../../src/engine/probes/parse-inside.js';
import { insideArgs, insideScript, loginOutcome } from '../../src/engine/probes/inside.js';
import { clientPatternMatches, firewallRulesForPort, firewallRulesNaming, wrapperAccess } from '../../src/engine/checklist/access.js';
import { banCheck } from '../../src/engine/checklist/steps/bans.js';
import { insideLoad } from '../../src/engine/checklist/steps/load.js';
import type { InsideFacts } from '../../src/engine/observations.js';

const fixture = readFileSync(new URL('../../../test/fixtures/inside/lab.txt', import.meta.url), 'utf8');

function facts(): InsideFacts {
  const f = parseInside(fixture);
  assert.ok(f, 'the recorded output parses');
  return f;
}

test('the recorded lab output: listeners, sshd -T, rules, fail2ban, load, log, timings', () => {
  const f = facts();
  assert.deepEqual(
    f.listeners.filter((l) => l.process === 'sshd').map((l) => `${l.address}:${l.port}`).sort(),
    ['10.77.2.2:22', '10.77.2.2:2222'],
  );
  assert.deepEqual(f.sshdConfig.port, ['22', '2222']);
  assert.equal(f.configTest?.ok, true);
  assert.deepEqual(f.hostsDeny, ['sshd: 10.77.9. EXCEPT 10.77.9.1']);
  assert.ok(f.fail2ban && !('error' in f.fail2ban));
  assert.deepEqual(f.fail2ban.banned, ['10.77.3.2']);
  assert.ok(f.firewall.iptables.includes('-A f2b-sshd -s 10.77.3.2/32 -j REJECT --reject-with icmp-port-unreachable'));
  assert.ok(f.load && f.cpus && f.memory);
  assert.ok(f.sshdLog.some((l) => l.startsWith('Invalid user nosuchuser from 10.77.3.2')));
  for (const section of ['systemctl', 'listeners', 'sshd-config', 'fail2ban', 'iptables', 'nft', 'sshd-log']) assert.equal(typeof f.timings[section], 'number', section);
});

test('output without the end marker is not a result (the script did not run to the end)', () => {
  assert.equal(parseInside(fixture.slice(0, fixture.indexOf('@@sshcheck end'))), undefined);
  assert.equal(parseInside(''), undefined);
});

test('hostile output is bounded and sanitized; bad numbers are ignored', () => {
  const text = [
    '@@sshcheck loadavg 1',
    'NaN 1e9 -3 x/y',
    '@@sshcheck cpus 2',
    '999999999',
    '@@sshcheck sshd-log 3',
    `\u001b]0;pwned\u0007 <!channel> ${'A'.repeat(5000)}`,
    ...Array.from({ length: 1000 }, (_, i) => `line ${i}`),
    '@@sshcheck listeners 4',
    'LISTEN 0 128 evil.example:22 0.0.0.0:* users:(("sshd\u0007",pid=1,fd=3))',
    'LISTEN 0 128 0.0.0.0:99999 0.0.0.0:*',
    '@@sshcheck end 5',
  ].join('\n');
  const f = parseInside(text);
  assert.ok(f);
  assert.equal(f.load, undefined);
  assert.equal(f.cpus, undefined);
  assert.equal(f.sshdLog.length, 200);
  assert.ok(f.sshdLog.every((l) => l.length <= 401 && !/[\u0000-\u001f]/.test(l)));
  assert.deepEqual(f.listeners, []);
});

test('socket addresses as ss and netstat print them', () => {
  assert.deepEqual(parseSocketAddress('[::]:22'), { address: '::', port: 22 });
  assert.deepEqual(parseSocketAddress('*:22'), { address: '*', port: 22 });
  assert.deepEqual(parseSocketAddress('127.0.0.53%lo:53'), { address: '127.0.0.53', port: 53 });
  assert.equal(parseSocketAddress('0.0.0.0:0'), undefined);
  assert.deepEqual(parseListeners(['tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN      123/sshd: /usr/sbin']), [{ address: '0.0.0.0', port: 22, process: 'sshd' }]);
});

test('hosts_access: allow first, then deny; EXCEPT, prefixes, netmasks and CIDRs; names need DNS', () => {
  const rules = (allow: string[], deny: string[]) => ({ hostsAllow: allow, hostsDeny: deny });
  assert.equal(wrapperAccess(rules([], ['sshd: ALL']), '10.0.0.5').verdict, 'denied');
  assert.equal(wrapperAccess(rules(['sshd: 10.0.0.5'], ['sshd: ALL']), '10.0.0.5').verdict, 'allowed');
  assert.equal(wrapperAccess(rules([], ['sshd: ALL EXCEPT 10.0.0.5']), '10.0.0.5').verdict, 'allowed');
  assert.equal(wrapperAccess(rules([], ['sshd: ALL EXCEPT 10.0.0.5']), '10.0.0.6').verdict, 'denied');
  assert.equal(wrapperAccess(rules([], ['ALL: 10.0.']), '10.0.9.9').verdict, 'denied');
  assert.equal(wrapperAccess(rules([], ['vsftpd: ALL']), '10.0.9.9').verdict, 'allowed');
  assert.equal(wrapperAccess(rules([], ['sshd: .example.com']), '10.0.9.9').verdict, 'unknown');
  assert.equal(clientPatternMatches('10.0.0.0/255.255.0.0', '10.0.200.1'), 'yes');
  assert.equal(clientPatternMatches('10.0.0.0/16', '10.1.0.1'), 'no');
  assert.equal(clientPatternMatches('[2001:db8::]/32', '2001:db8::7'), 'yes');
  assert.equal(wrapperAccess(rules([], ['sshd: 10.0.0.5 : allow']), '10.0.0.5').verdict, 'allowed');
});

test('firewall rules and bans that name an address, from the recorded rules', () => {
  const f = facts();
  // iptables-nft shows fail2ban's rule twice: in iptables -S syntax and in the nft ruleset.
  assert.deepEqual(firewallRulesNaming(f.firewall, '10.77.3.2'), ['-A f2b-sshd -s 10.77.3.2/32 -j REJECT --reject-with icmp-port-unreachable', 'ip saddr 10.77.3.2 counter packets 1 bytes 60 reject']);
  assert.deepEqual(firewallRulesNaming(f.firewall, '10.77.9.77'), ['-A INPUT -s 10.77.9.0/24 -p tcp -m tcp --dport 22 -j DROP', 'ip saddr 10.77.9.0/24 tcp dport 22 counter packets 0 bytes 0 drop']);
  assert.deepEqual(firewallRulesNaming(f.firewall, '10.77.1.2'), []);
  assert.deepEqual(firewallRulesForPort({ iptables: ['-A INPUT -p tcp --dport 22 -j DROP'], nft: ['tcp dport { 22, 2222 } drop'], errors: [] }, 22), ['-A INPUT -p tcp --dport 22 -j DROP', 'tcp dport { 22, 2222 } drop']);
  const banned = banCheck(f, '10.77.3.2', 'the requester');
  assert.equal(banned.finding?.cause, 'banned');
  assert.match(banned.finding?.summary ?? '', /sudo fail2ban-client set sshd unbanip 10\.77\.3\.2/);
  assert.match(banCheck(f, '10.77.1.2', 'this bastion').verdict, /is not banned/);
});

test('load from inside: high load alone is a hint; memory exhaustion is a cause', () => {
  const base = facts();
  const busy = { ...base, load: { one: 30, five: 20, fifteen: 10 }, cpus: 2, pressure: {}, sshdLog: [] };
  assert.equal(insideLoad(busy, false).finding?.confidence, 'low');
  assert.equal(insideLoad(busy, true).finding?.confidence, 'medium');
  const oom = { ...base, memory: { totalKb: 1_000_000, availableKb: 10_000 }, sshdLog: [] };
  assert.equal(insideLoad(oom, false).finding?.confidence, 'high');
});

test('the script is the same fixed text for every target; only config changes sudo and the log path', () => {
  const plain = insideScript({ sudo: false });
  const sudo = insideScript({ sudo: true, sshdLog: '/var/log/sshd.log' });
  assert.doesNotMatch(plain, /sudo/);
  assert.match(sudo, /sudo -n sshd -T/);
  assert.match(sudo, /\/var\/log\/sshd\.log/);
  // Read-only: nothing that removes, signals, writes, changes modes or restarts.
  for (const forbidden of [/\brm\b/, /\bkill\b/, /> ?\/(?!dev\/null)/, /\bchmod\b/, /systemctl (re)?start/, /\bset +-/, /\bcurl\b|\bwget\b/]) assert.doesNotMatch(plain, forbidden);
  const args = insideArgs({ login: { match: ['*'], user: 'diag', key: '/k', knownHosts: '/kh', sudo: false }, address: '10.0.0.5', port: 2222, hostKeyAlias: 'db-3' });
  assert.equal(args[args.indexOf('--') + 1], '10.0.0.5');
  assert.equal(args.indexOf('--'), args.length - 3);
  for (const opt of ['StrictHostKeyChecking=yes', 'UserKnownHostsFile=/kh', 'HostKeyAlias=db-3', 'IdentitiesOnly=yes', 'BatchMode=yes', 'ForwardAgent=no']) assert.ok(args.includes(opt), opt);
});

test("login failures in ssh's own words", () => {
  assert.equal(loginOutcome('@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.\n', false).login, 'host-key-mismatch');
  assert.equal(loginOutcome('No ED25519 host key is known for db-3 and you have requested strict checking.\nHost key verification failed.\n', false).login, 'host-key-mismatch');
  assert.equal(loginOutcome('diag@10.0.0.5: Permission denied (publickey).\n', false).login, 'auth-failed');
  assert.equal(loginOutcome('ssh: connect to host 10.0.0.5 port 2222: Connection refused\n', false).login, 'refused');
  assert.equal(loginOutcome('ssh: connect to host 10.0.0.5 port 2222: Connection timed out\n', false).login, 'timeout');
  assert.equal(loginOutcome('anything', true).login, 'ok');
});
