// getaddrinfo's failure known before getent returns (issue 19): when nsswitch.conf has it read
// only the hosts file and DNS (and no nscd cache answers first), a name the file does not
// list and every resolver refuses for every search-list name cannot resolve, so the DNS step
// settles without waiting for the child process. Anything that could answer otherwise keeps
// the wait. The probe half runs against a real dns2 server on 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dns2 from 'dns2';
import { probeDns } from '../../src/engine/probes/dns.js';
import { onlyFilesAndDns } from '../../src/engine/probes/local-names.js';
import { assessDns } from '../../src/engine/checklist/steps/dns.js';
import type { DnsObs, SystemResolveObs } from '../../src/engine/observations.js';
import { testContext } from '../support/context.js';
import { input } from '../support/observations.js';

const { Packet } = dns2;
const SERVFAIL = 2;
const NXDOMAIN = 3;

let server: dns2.UDPServer;
let port = 0;
let dir = '';
const asked: string[] = [];

before(async () => {
  // SERVFAIL for the search domain's names, NXDOMAIN for everything else.
  server = dns2.createUDPServer({ type: 'udp4' });
  server.on('request', (request: dns2.Packet, send: (p: dns2.Packet) => Promise<Buffer>, _client: dgram.RemoteInfo) => {
    const q = request.questions[0];
    const name = q?.name.toLowerCase() ?? '';
    asked.push(`${name} ${q?.type ?? '?'}`);
    const response = Packet.createResponseFromRequest(request);
    response.header.rcode = name.endsWith('.broken.test') ? SERVFAIL : NXDOMAIN;
    void send(response);
  });
  await server.listen(0, '127.0.0.1');
  port = server.address().port;
  dir = mkdtempSync(join(tmpdir(), 'sshcheck-gai-known-'));
});

after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
}

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
  const base: DnsObs = {
    state: 'done',
    startedMs: 0,
    endedMs: 5,
    resolvers: ['10.0.0.53'],
    search: ['lab.test'],
    ndots: 1,
    candidates: ['db-9.lab.test', 'db-9'],
    queries: [
      { server: '10.0.0.53', name: 'db-9.lab.test', type: 'A', outcome: 'nxdomain', answers: [] },
      { server: '10.0.0.53', name: 'db-9.lab.test', type: 'AAAA', outcome: 'nxdomain', answers: [] },
      { server: '10.0.0.53', name: 'db-9', type: 'A', outcome: 'nxdomain', answers: [] },
      { server: '10.0.0.53', name: 'db-9', type: 'AAAA', outcome: 'nxdomain', answers: [] },
    ],
    filesAndDnsOnly: { hostsPath: '/etc/hosts', addresses: [] },
  };
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
