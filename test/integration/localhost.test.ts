// `sshcheck localhost` (issue 17), the README's first command: the whole engine against an
// SSH server on loopback, with a resolv.conf of its own that points at a dns2 server here
// which counts every question. localhost comes from /etc/hosts, so nothing may ask DNS for
// it, step 5 must not warn "not in DNS", and the healthy verdict's advice is about this
// bastion, not about the requester's VPN routing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type dgram from 'node:dgram';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dns2 from 'dns2';
import { run } from '../../src/engine/run.js';
import { parseTarget } from '../../src/target.js';
import { filesBeforeDns, nsswitchHosts, parseHostsFile } from '../../src/engine/probes/local-names.js';
import { startSshServer } from '../support/ssh-server.js';
import type { SshTestServer } from '../support/ssh-server.js';

const { Packet } = dns2;

/** Why this machine cannot show it: localhost must come from /etc/hosts, read before DNS. */
function unavailable(): string | undefined {
  let hosts: string;
  try {
    hosts = readFileSync('/etc/hosts', 'utf8');
  } catch {
    return 'no /etc/hosts here';
  }
  const addresses = parseHostsFile(hosts).byName.get('localhost') ?? [];
  if (!addresses.includes('127.0.0.1')) return '/etc/hosts does not map localhost to 127.0.0.1';
  let nsswitch: string | undefined;
  try {
    nsswitch = readFileSync('/etc/nsswitch.conf', 'utf8');
  } catch {
    nsswitch = undefined;
  }
  if (!filesBeforeDns(nsswitchHosts(nsswitch))) return 'nsswitch.conf asks DNS before /etc/hosts here';
  return undefined;
}

const skip = unavailable();
let dnsServer: dns2.UDPServer;
let dnsPort = 0;
let dir = '';
const asked: string[] = [];
const servers: SshTestServer[] = [];

before(async () => {
  if (skip) return;
  dnsServer = dns2.createUDPServer({ type: 'udp4' });
  dnsServer.on('request', (request: dns2.Packet, send: (p: dns2.Packet) => Promise<Buffer>, _client: dgram.RemoteInfo) => {
    const q = request.questions[0];
    if (q) asked.push(`${q.name.toLowerCase()} ${q.type}`);
    const response = Packet.createResponseFromRequest(request);
    response.header.rcode = 3;
    void send(response);
  });
  await dnsServer.listen(0, '127.0.0.1');
  dnsPort = dnsServer.address().port;
  dir = mkdtempSync(join(tmpdir(), 'sshcheck-localhost-'));
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  // One host key on 127.0.0.1 and, where /etc/hosts also maps localhost to ::1, on ::1.
  const hostKey = generateKeyPairSync('ed25519').privateKey;
  const v4 = await startSshServer({ mode: 'normal', hostKey });
  servers.push(v4);
  try {
    servers.push(await startSshServer({ mode: 'normal', hostKey, host: '::1', port: v4.port }));
  } catch {
    // No IPv6 loopback here: getaddrinfo does not return ::1 for localhost either then.
  }
});

after(async () => {
  if (skip) return;
  for (const s of servers) await s.close();
  dnsServer.close();
  rmSync(dir, { recursive: true, force: true });
});

test('localhost: answered by /etc/hosts, so DNS is never asked; step 5 passes; the advice is about this bastion', { skip: skip ?? false }, async () => {
  const port = servers[0]?.port ?? 0;
  const report = await run(parseTarget(`localhost:${port}`), { vantage: 'test-bastion', resolvConfPath: join(dir, 'resolv.conf'), dnsPort, extrasMs: 0 });
  assert.deepEqual(asked.filter((q) => q.startsWith('localhost')), [], 'the name was sent to the resolver');
  const dns = report.steps.find((s) => s.id === 'dns');
  assert.equal(dns?.status, 'pass', dns?.summary);
  assert.match(dns?.summary ?? '', /^localhost → 127\.0\.0\.1/);
  assert.doesNotMatch(JSON.stringify(dns), /not in DNS/);
  assert.ok(dns?.evidence.some((e) => /which nsswitch\.conf reads before DNS/.test(e.detail)), JSON.stringify(dns?.evidence));
  assert.ok(dns?.evidence.some((e) => e.detail === 'resolver 127.0.0.1: not asked'), JSON.stringify(dns?.evidence));
  assert.equal(report.diagnosis.cause, 'healthy', report.diagnosis.summary);
  assert.match(report.diagnosis.next[0] ?? '', /^localhost is this bastion itself \(loopback\)/);
  assert.doesNotMatch(report.diagnosis.next.join('\n'), /VPN|split tunnel/);
});
