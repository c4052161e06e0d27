// Names the hosts file answers (issue 17): getaddrinfo reads /etc/hosts before DNS when
// nsswitch.conf says `files dns`, so such a name never reaches the resolvers, and the DNS
// probe must not send it either; and getaddrinfo's failure known without getent when nothing
// but the file and DNS can answer (issue 19). Checked against a real dns2 server on 127.0.0.1
// that counts every question it gets, with the probe's own hosts, nsswitch.conf and resolv.conf files.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeDns, probePtr } from '../../src/engine/probes/dns.js';
import { filesBeforeDns, nsswitchHosts, onlyFilesAndDns, parseHostsFile } from '../../src/engine/probes/local-names.js';
import { assessDns } from '../../src/engine/checklist/steps/dns.js';
import type { DnsObs, SystemResolveObs } from '../../src/engine/observations.js';
import { dnsObs, input } from '../support/observations.js';
import { isLoopbackTarget, loopbackHealthyNext } from '../../src/engine/loopback.js';
import { nextSteps } from '../../src/engine/checklist/causes.js';
import { parseTarget } from '../../src/target.js';
import { testContext } from '../support/context.js';
import type { RcodeDns } from '../support/rcode-dns.js';
import { RCODE, startRcodeDns } from '../support/rcode-dns.js';

let dns: RcodeDns;
let port = 0;
let dir = '';
/** Every question the server got, as "name TYPE". */
let asked: string[] = [];

before(async () => {
  // SERVFAIL for names under broken.test (the getaddrinfo tests below), NXDOMAIN for everything else.
  dns = await startRcodeDns((name) => (name.endsWith('.broken.test') ? RCODE.SERVFAIL : RCODE.NXDOMAIN));
  port = dns.port;
  asked = dns.asked;
  dir = mkdtempSync(join(tmpdir(), 'sshcheck-local-names-'));
});

after(() => {
  dns.close();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
}

const HOSTS = '# a comment\n127.0.0.1\tlocalhost\n::1 localhost ip6-localhost\n10.77.2.2 db-local.lab.test db-local # the lab target\nnot-an-ip broken\n';

function paths(nsswitch: string): { resolvConfPath: string; hostsPath: string; nsswitchPath: string } {
  return {
    resolvConfPath: file('resolv.conf', 'nameserver 127.0.0.1\nsearch lab.test\n'),
    hostsPath: file('hosts', HOSTS),
    nsswitchPath: file(`nsswitch-${asked.length}-${nsswitch.length}.conf`, nsswitch),
  };
}

test('the hosts file and the hosts: line of nsswitch.conf, parsed as glibc reads them', () => {
  const hosts = parseHostsFile(HOSTS);
  assert.deepEqual(hosts.byName.get('localhost'), ['127.0.0.1', '::1']);
  assert.deepEqual(hosts.byName.get('db-local'), ['10.77.2.2']);
  assert.deepEqual(hosts.byAddress.get('10.77.2.2'), ['db-local.lab.test', 'db-local']);
  assert.equal(hosts.byName.has('broken'), false);
  assert.deepEqual(nsswitchHosts('passwd: files\nhosts:   files mdns4_minimal [NOTFOUND=return] dns # x\n'), ['files', 'mdns4_minimal', 'dns']);
  assert.deepEqual(nsswitchHosts(undefined), ['dns', 'files'], 'no nsswitch.conf: glibc asks DNS first');
  assert.deepEqual(nsswitchHosts('passwd: files\n'), ['dns', 'files']);
  assert.equal(filesBeforeDns(['files', 'dns']), true);
  assert.equal(filesBeforeDns(['dns', 'files']), false);
  assert.equal(filesBeforeDns(['files']), true);
  assert.equal(filesBeforeDns(['dns']), false);
});

test('a name the hosts file maps to this machine (files before dns) is not sent to the resolvers', async () => {
  const before = asked.length;
  const obs = await probeDns({ name: 'localhost', queryTimeoutMs: 1000, port, ...paths('hosts: files dns\n') }, testContext());
  assert.equal(obs.state, 'done');
  assert.deepEqual(obs.queries, []);
  assert.match(obs.configNote ?? '', /^localhost → 127\.0\.0\.1, ::1 \(this machine\) from .*hosts, which nsswitch\.conf reads before DNS: ssh does not ask DNS for this name/);
  assert.deepEqual(asked.slice(before), [], 'no question reached the server');
});

test('another name in the hosts file, one not in it, or nsswitch.conf asking DNS first: the resolvers are asked (a stale hosts line shows against DNS)', async () => {
  let before = asked.length;
  const local = await probeDns({ name: 'DB-LOCAL', queryTimeoutMs: 4000, port, ...paths('hosts: files dns\n') }, testContext(10_000));
  assert.ok(local.queries.length > 0);
  assert.ok(asked.slice(before).some((q) => q.startsWith('db-local')), asked.slice(before).join(', '));
  before = asked.length;
  // Generous timeouts: on a loaded machine the server must get to the question before the probe gives up.
  const other = await probeDns({ name: 'db-9', queryTimeoutMs: 4000, port, ...paths('hosts: files dns\n') }, testContext(10_000));
  assert.ok(other.queries.length > 0);
  assert.ok(asked.slice(before).some((q) => q.startsWith('db-9.lab.test ')), asked.slice(before).join(', '));
  before = asked.length;
  const dnsFirst = await probeDns({ name: 'localhost', queryTimeoutMs: 4000, port, ...paths('hosts: dns files\n') }, testContext(10_000));
  assert.ok(dnsFirst.queries.length > 0);
  assert.ok(asked.slice(before).some((q) => q.startsWith('localhost')), 'with dns first the name goes to DNS');
});

test('reverse lookups: a loopback address is answered by the hosts file; any other goes to DNS', async () => {
  const files = paths('hosts: files dns\n');
  const common = { resolvers: ['127.0.0.1'], queryTimeoutMs: 4000, port, hostsPath: files.hostsPath, nsswitchPath: files.nsswitchPath };
  let before = asked.length;
  for (const role of ['target', 'bastion'] as const) {
    const loopback = await probePtr({ ...common, address: '127.0.0.1', role }, testContext());
    assert.deepEqual(loopback.queries.map((q) => [q.outcome, q.answers]), [['answer', ['localhost']]]);
    assert.match(loopback.queries[0]?.detail ?? '', /not asked of DNS/);
  }
  assert.deepEqual(asked.slice(before), []);
  // For the bastion's network address it is the target's sshd that looks it up, in the
  // target's hosts file: ours says nothing about it, so DNS is asked (and for the target too).
  before = asked.length;
  const bastion = await probePtr({ ...common, address: '10.77.2.2', role: 'bastion' }, testContext(10_000));
  assert.equal(bastion.queries[0]?.outcome, 'nxdomain');
  assert.deepEqual(asked.slice(before), ['2.2.77.10.in-addr.arpa 12']);
});

test('loopback targets: recognised by name and address; a healthy one gets advice about this bastion, not VPN routing', () => {
  for (const t of ['localhost', 'LOCALHOST', 'db.localhost', '127.0.0.1', '127.3.2.1', '[::1]']) assert.equal(isLoopbackTarget(parseTarget(t)), true, t);
  for (const t of ['db-3', 'localhost.corp.example', '10.0.0.1', '[2001:db8::1]', '128.0.0.1']) assert.equal(isLoopbackTarget(parseTarget(t)), false, t);
  const next = nextSteps('healthy', parseTarget('localhost:2222'));
  assert.deepEqual(next, loopbackHealthyNext(parseTarget('localhost:2222')));
  assert.match(next[0] ?? '', /^localhost is this bastion itself \(loopback\)/);
  assert.match(next.join('\n'), /sshcheck -p 2222 <host>/);
  assert.doesNotMatch(next.join('\n'), /VPN|split tunnel|ip route get/);
  assert.match(nextSteps('healthy', parseTarget('db-3')).join('\n'), /VPN or split tunnel/, 'other hosts keep the requester-side advice');
});

// getaddrinfo's failure known before getent returns (issue 19): when nsswitch.conf has it read
// only the hosts file and DNS (and no nscd cache answers first), a name the file does not
// list and every resolver refuses for every search-list name cannot resolve, so the DNS step
// settles without waiting for the child process. Anything that could answer otherwise keeps
// the wait.

function options(nsswitch: string, nscd = false): { resolvConfPath: string; hostsPath: string; nsswitchPath: string; nscdSocketPaths: string[] } {
  return {
    resolvConfPath: file('resolv.conf', 'nameserver 127.0.0.1\nsearch broken.test\n'),
    hostsPath: file('hosts', '127.0.0.1 localhost\n10.0.0.7 db-7\n'),
    nsswitchPath: file(`nsswitch-${asked.length}.conf`, nsswitch),
    nscdSocketPaths: [nscd ? file('nscd-socket', '') : join(dir, 'no-nscd-here')],
  };
}

const resolving: SystemResolveObs = { state: 'running', startedMs: 0, name: 'db-9', addresses: [] };

test('nsswitch.conf: only `files dns` (either order, no actions) leaves getaddrinfo nothing else to ask', () => {
  assert.equal(onlyFilesAndDns('hosts: files dns\n'), true);
  assert.equal(onlyFilesAndDns('passwd: files\nhosts:\tdns   files # comment\n'), true);
  assert.equal(onlyFilesAndDns('hosts: files myhostname dns\n'), false, 'myhostname answers for this machine');
  assert.equal(onlyFilesAndDns('hosts: files mdns4_minimal [NOTFOUND=return] dns\n'), false);
  assert.equal(onlyFilesAndDns('hosts: files [NOTFOUND=return] dns\n'), false, 'an action changes what a miss does');
  assert.equal(onlyFilesAndDns('hosts: dns\n'), false, 'without files the hosts file says nothing');
  assert.equal(onlyFilesAndDns('passwd: files\n'), false, 'no hosts line: glibc defaults to dns [!UNAVAIL=return] files');
  assert.equal(onlyFilesAndDns(undefined), false);
});

describe('the DNS probe and step', () => {
  test('SERVFAIL on the first search-list name: the probe goes on to the next, as glibc does, and the step settles without getent', async () => {
    const before = asked.length;
    const dns = await probeDns({ name: 'db-9', queryTimeoutMs: 4000, port, ...options('hosts: files dns\n') }, testContext(10_000));
    assert.deepEqual(
      asked.slice(before).sort(),
      ['db-9 1', 'db-9 28', 'db-9.broken.test 1', 'db-9.broken.test 28'],
      'both names asked, A (1) and AAAA (28)',
    );
    assert.deepEqual(dns.filesAndDnsOnly?.addresses, []);
    const step = assessDns(input({ dns, resolve: resolving }, 30, { target: 'db-9' }));
    assert.equal(step.settled, true, step.summary);
    assert.equal(step.findings[0]?.cause, 'dns-servfail');
    assert.ok(step.evidence.some((e) => /reads only .*hosts and DNS/.test(e.detail)), JSON.stringify(step.evidence));
  });

  test('a name the hosts file lists, another NSS source, or nscd: getaddrinfo may answer, so the step waits for it', async () => {
    const listed = await probeDns({ name: 'db-7', queryTimeoutMs: 4000, port, ...options('hosts: dns files\n') }, testContext(10_000));
    assert.deepEqual(listed.filesAndDnsOnly?.addresses, ['10.0.0.7']);
    const other = await probeDns({ name: 'db-9', queryTimeoutMs: 4000, port, ...options('hosts: files myhostname dns\n') }, testContext(10_000));
    assert.equal(other.filesAndDnsOnly, undefined);
    const cached = await probeDns({ name: 'db-9', queryTimeoutMs: 4000, port, ...options('hosts: files dns\n', true) }, testContext(10_000));
    assert.equal(cached.filesAndDnsOnly, undefined, 'nscd running: its cache answers first');
    for (const [dns, target] of [[listed, 'db-7'], [other, 'db-9'], [cached, 'db-9']] as const) {
      const step = assessDns(input({ dns, resolve: { ...resolving, name: target } }, 30, { target }));
      assert.equal(step.settled, false, `${target}: ${step.summary}`);
    }
  });
});

test('an unanswered query or a search-list name never asked: not known, the step waits', () => {
  const base = dnsObs({
    candidates: ['db-9.lab.test', 'db-9'],
    queries: [
      { server: '10.0.0.53', name: 'db-9.lab.test', type: 'A', outcome: 'nxdomain', answers: [] },
      { server: '10.0.0.53', name: 'db-9.lab.test', type: 'AAAA', outcome: 'nxdomain', answers: [] },
      { server: '10.0.0.53', name: 'db-9', type: 'A', outcome: 'nxdomain', answers: [] },
      { server: '10.0.0.53', name: 'db-9', type: 'AAAA', outcome: 'nxdomain', answers: [] },
    ],
    filesAndDnsOnly: { hostsPath: '/etc/hosts', addresses: [] },
  });
  const judge = (dns: DnsObs): ReturnType<typeof assessDns> => assessDns(input({ dns, resolve: resolving }, 30, { target: 'db-9' }));
  const known = judge(base);
  assert.equal(known.settled, true);
  assert.equal(known.findings[0]?.cause, 'dns-nxdomain');
  assert.match(known.findings[0]?.summary ?? '', /NXDOMAIN and \/etc\/hosts has no line for it/);
  const timedOut = { ...base, queries: base.queries.map((q, i) => (i === 3 ? { ...q, outcome: 'timeout' as const } : q)) };
  assert.equal(judge(timedOut).settled, false, 'a timeout: getaddrinfo may still get an answer from a retry');
  assert.equal(judge({ ...base, queries: base.queries.slice(0, 2) }).settled, false, 'db-9 itself never asked');
  assert.equal(judge({ ...base, aborted: true }).settled, false);
  assert.equal(judge({ ...base, filesAndDnsOnly: undefined }).settled, false);
});

test('a walk cut short by an unanswered query is no "does not exist": a NODATA beside a lost A query means the name exists', () => {
  // Under 5 % loss: db-3.lab.test's A query and its retransmission lost, AAAA answered NODATA;
  // getaddrinfo, still waiting on its own lost packet, answers after its 5 s retry.
  const cut = dnsObs({
    endedMs: 2000,
    candidates: ['db-3.lab.test', 'db-3'],
    queries: [
      { server: '10.0.0.53', name: 'db-3.lab.test', type: 'A', outcome: 'timeout', answers: [], latencyMs: 2000 },
      { server: '10.0.0.53', name: 'db-3.lab.test', type: 'AAAA', outcome: 'nodata', answers: [], latencyMs: 1 },
    ],
    filesAndDnsOnly: { hostsPath: '/etc/hosts', addresses: [] },
  });
  const step = assessDns(input({ dns: cut, resolve: { ...resolving, name: 'db-3' } }, 2100, { target: 'db-3' }));
  assert.notEqual(step.findings[0]?.cause, 'dns-nxdomain', step.summary);
  assert.equal(step.findings[0]?.cause, 'dns-timeout', 'no answer for the name in dnsSlowAfterMs, as it stands');
  // NXDOMAIN speaks for the whole name: beside the lost A query, with getaddrinfo failed, it is absence.
  const gone: DnsObs = { ...cut, queries: [cut.queries[0]!, { ...cut.queries[1]!, outcome: 'nxdomain' }] };
  const failed: SystemResolveObs = { state: 'done', startedMs: 0, endedMs: 2050, name: 'db-3', addresses: [], error: { kind: 'not-found', detail: 'getent exit 2' } };
  assert.equal(assessDns(input({ dns: gone, resolve: failed }, 2100, { target: 'db-3' })).findings[0]?.cause, 'dns-nxdomain');
  // The same NODATA from a walk that went to its end (db-3 asked too, all decisive) is "no address".
  const whole: DnsObs = {
    ...cut,
    queries: [
      { ...cut.queries[1]!, type: 'A' },
      cut.queries[1]!,
      { server: '10.0.0.53', name: 'db-3', type: 'A', outcome: 'nxdomain', answers: [] },
      { server: '10.0.0.53', name: 'db-3', type: 'AAAA', outcome: 'nxdomain', answers: [] },
    ],
  };
  assert.equal(assessDns(input({ dns: whole, resolve: { ...resolving, name: 'db-3' } }, 30, { target: 'db-3' })).findings[0]?.cause, 'dns-nxdomain');
});

test('half a pair answered: the resolver is alive (no "no resolver answers"), and a walk the run cut short is no "does not exist"', () => {
  // Under 5 % loss: db-3.lab.test's A query lost (its retransmission comes at 1 s), AAAA
  // answered NODATA at once; getaddrinfo waits on its own lost packet.
  const halfway = dnsObs({
    state: 'running',
    candidates: ['db-3.lab.test', 'db-3'],
    answeredBy: ['10.0.0.53'],
    filesAndDnsOnly: { hostsPath: '/etc/hosts', addresses: [] },
  });
  delete halfway.endedMs;
  const at400 = assessDns(input({ dns: halfway, resolve: { ...resolving, name: 'db-3', startedMs: 5 } }, 400, { target: 'db-3' }));
  assert.equal(at400.settled, false, at400.summary);
  assert.equal(assessDns(input({ dns: { ...halfway, answeredBy: [] }, resolve: { ...resolving, name: 'db-3', startedMs: 5 } }, 400, { target: 'db-3' })).findings[0]?.cause, 'dns-timeout', 'silence from everyone is still dead');
  // The run ended (another verdict) and aborted the probe with half the pair in: the final
  // look must not read the NODATA as absence.
  const cut: DnsObs = { ...halfway, state: 'done', endedMs: 700, aborted: true, queries: [{ server: '10.0.0.53', name: 'db-3.lab.test', type: 'AAAA', outcome: 'nodata', answers: [] }] };
  const last = assessDns(input({ dns: cut, resolve: { ...resolving, name: 'db-3', startedMs: 5 } }, 700, { target: 'db-3', final: true }));
  assert.notEqual(last.findings[0]?.cause, 'dns-nxdomain', last.summary);
});
