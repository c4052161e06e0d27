// GET /probe from Prometheus's side, against real faults: `sshcheck serve` in the lab's
// bastion namespace (on its own loopback), a real sshd in the target namespace, and iptables
// rules there. Each scrape's answer must parse as Prometheus text and carry the right cause
// label and success value: healthy (port 22), a TCP reset (port-closed) and a silent drop
// (port-filtered). The scrapes are made from inside the bastion namespace too.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ADDR, CLI, Lab, labUnavailable } from './lab.js';
import { parsePrometheusText, sampleValue } from './prom-text.js';

const unavailable = labUnavailable();
if (unavailable) console.log(`# probe lab skipped: ${unavailable}`);

const TOKEN = `probe-${randomUUID()}`;
const LISTEN = '127.0.0.1:8723';
const RESET_PORT = 2202;
const DROP_PORT = 2201;

/** A scrape as Prometheus makes it (GET, bearer token), from the bastion namespace; prints status, content type and body. */
const SCRAPE = `
const [url, token] = process.argv.slice(1);
const res = await fetch(url, { headers: token ? { Authorization: 'Bearer ' + token } : {}, signal: AbortSignal.timeout(40000) });
process.stdout.write(JSON.stringify({ status: res.status, type: res.headers.get('content-type'), body: await res.text() }));
`;

interface Scrape {
  status: number;
  type: string | null;
  body: string;
}

describe('lab: GET /probe carries the cause of real faults as a label', { skip: unavailable ?? false }, () => {
  let lab: Lab;
  let serve: ChildProcess | undefined;

  const scrape = async (query: string, token: string | undefined = TOKEN): Promise<Scrape> => {
    const out = await lab.exec(lab.bastion, process.execPath, ['--input-type=module', '-e', SCRAPE, `http://${LISTEN}/probe${query}`, token ?? '']);
    return JSON.parse(out.stdout) as Scrape;
  };

  before(async () => {
    lab = await Lab.create();
    try {
      await lab.startSshd();
      await lab.iptables(lab.target, '-A', 'INPUT', '-p', 'tcp', '--dport', String(RESET_PORT), '-j', 'REJECT', '--reject-with', 'tcp-reset');
      await lab.iptables(lab.target, '-A', 'INPUT', '-p', 'tcp', '--dport', String(DROP_PORT), '-j', 'DROP');
      // `env` sets the service's token and store without a shell; the process dies with the lab.
      serve = await lab.spawnTracked(
        lab.bastion,
        'env',
        [`SSHCHECK_SERVICE_TOKENS=${TOKEN}`, `SSHCHECK_DB=${join(lab.workDir, 'probe-store.db')}`, process.execPath, CLI, 'serve', '--listen', LISTEN, '--vantage', 'lab-1', '--reuse', '0'],
        /"msg":"listening"/,
      );
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  });

  after(async () => {
    serve?.kill('SIGTERM');
    await lab?.destroy();
  });

  const cases: Array<{ name: string; query: string; cause: string; step: string; success: number }> = [
    { name: 'healthy sshd', query: `?target=${ADDR.target}`, cause: 'healthy', step: 'none', success: 1 },
    { name: 'a TCP reset', query: `?target=${ADDR.target}&port=${RESET_PORT}`, cause: 'port-closed', step: 'sshd', success: 0 },
    { name: 'a silent drop', query: `?target=${ADDR.target}&port=${DROP_PORT}`, cause: 'port-filtered', step: 'firewall', success: 0 },
  ];
  for (const c of cases) {
    test(`${c.name}: cause="${c.cause}", success ${c.success}`, async (t) => {
      const res = await scrape(c.query);
      assert.equal(res.status, 200, res.body);
      assert.match(res.type ?? '', /^text\/plain; version=0\.0\.4/);
      t.diagnostic(`GET /probe${c.query}\n${res.body}`);
      const families = parsePrometheusText(res.body);
      assert.equal(sampleValue(families, 'sshcheck_probe_success'), c.success);
      const diagnosis = families.get('sshcheck_probe_diagnosis')?.samples ?? [];
      assert.equal(diagnosis.length, 1, res.body);
      assert.deepEqual([diagnosis[0]?.labels.cause, diagnosis[0]?.labels.step], [c.cause, c.step], res.body);
      assert.equal(families.get('sshcheck_probe_step_status')?.samples.length, 10);
      assert.ok((sampleValue(families, 'sshcheck_probe_duration_seconds') ?? 0) > 0);
      assert.doesNotMatch(res.body, /10\.77\./, 'no lab address in any label');
    });
  }

  test('no token: 401; a target the policy refuses: 403; no target: 400', async () => {
    assert.equal((await scrape(`?target=${ADDR.target}`, '')).status, 401);
    const refused = await scrape('?target=169.254.169.254');
    assert.equal(refused.status, 403, refused.body);
    const missing = await scrape('');
    assert.equal(missing.status, 400);
    assert.match(missing.body, /target: required/);
  });
});
