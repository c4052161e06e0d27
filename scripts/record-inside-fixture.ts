// Records what the inside script prints on a real lab target (root login, sshd on 22 and
// 2222, hosts.deny, a fail2ban jail that banned a second client, a firewall rule), for the
// parser's fixture tests. Run as root: node dist/scripts/record-inside-fixture.js <out.txt>
import { writeFileSync } from 'node:fs';
import { Lab, ADDR } from '../test/lab/lab.js';
import { addClient, diagnosticsLogin, getClientBanned, installFail2banConfig, sshdLogPath, startFail2ban } from '../test/lab/inside-lab.js';
import { insideArgs } from '../src/engine/probes/inside.js';
import { loadEngineConfig } from '../src/config/engine-config.js';

const out = process.argv[2] ?? 'test/fixtures/inside/lab.txt';
const lab = await Lab.create();
try {
  const client = await addClient(lab);
  installFail2banConfig(lab, sshdLogPath(lab));
  await lab.startSshd({ systemConfig: true, logFile: sshdLogPath(lab), hostsDeny: `sshd: 10.77.9. EXCEPT 10.77.9.1\n`, config: ['Port 22', 'Port 2222'] });
  const diag = await diagnosticsLogin(lab);
  await startFail2ban(lab);
  await getClientBanned(lab, client);
  await lab.iptables(lab.target, '-A', 'INPUT', '-s', '10.77.9.0/24', '-p', 'tcp', '--dport', '22', '-j', 'DROP');
  const login = loadEngineConfig(diag.configPath).diagnostics[0];
  if (!login) throw new Error('no login in the lab config');
  const run = await lab.exec(lab.bastion, 'ssh', insideArgs({ login, address: ADDR.target, port: 22, hostKeyAlias: ADDR.target }), { allowFail: true });
  // The lab's temporary directory differs per run; fixtures keep a stable placeholder.
  writeFileSync(out, run.stdout.split(lab.workDir).join('/tmp/sshcheck-lab'));
  console.log(`recorded ${run.stdout.length} bytes to ${out} (ssh exit ${run.code})`);
} finally {
  await lab.destroy();
}
