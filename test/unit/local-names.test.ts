// Names the hosts file answers (issue 17): getaddrinfo reads /etc/hosts before DNS when
// nsswitch.conf says `files dns`, so such a name never reaches the resolvers, and the DNS
// probe must not send it either. Checked against a real dns2 server on 127.0.0.1 that counts
// every question it gets, with the probe's own hosts, nsswitch.conf and resolv.conf files.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dns2 from 'dns2';
import { probeDns, probePtr } from '../../src/engine/probes/dns.js';
import { filesBeforeDns, nsswitchHosts, parseHostsFile } from '../../src/engine/probes/local-names.js';
import { isLoopbackTarget, loopbackHealthyNext } from '../../src/engine/loopback.js';
import { nextSteps } from '../../src/engine/checklist/causes.js';
import { parseTarget } from '../../src/target.js';
import { testContext } from '../support/context.js';

const { Packet } = dns2;
const NXDOMAIN = 3;

let server: dns2.UDPServer;
let port = 0;
let dir = '';
/** Every question the server got, as "name TYPE". */
const asked: string[] = [];

before(async () => {
  server = dns2.createUDPServer({ type: 'udp4' });
  server.on('request', (request: dns2.Packet, send: (p: dns2.Packet) => Promise<Buffer>, _client: dgram.RemoteInfo) => {
    const q = request.questions[0];
    if (q) asked.push(`${q.name.toLowerCase()} ${q.type}`);
    const response = Packet.createResponseFromRequest(request);
    response.header.rcode = NXDOMAIN;
    void send(response);
  });
  await server.listen(0, '127.0.0.1');
  port = server.address().port;
  dir = mkdtempSync(join(tmpdir(), 'sshcheck-local-names-'));
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
