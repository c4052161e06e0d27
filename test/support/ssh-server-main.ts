// Runs test/support/ssh-server.ts as a process of its own, so a lab can start it inside a
// network namespace: `node ssh-server-main.js <mode> <address> <port>`. Prints
// "listening <port>" when ready and stops on SIGTERM or SIGINT.
import type { SshServerMode } from './ssh-server.js';
import { startSshServer } from './ssh-server.js';

const MODES: readonly SshServerMode[] = [
  'normal',
  'forged-signature',
  'close-after-kexinit',
  'reset-after-kexinit',
  'length-zero',
  'length-max',
  'garbage',
  'truncated-namelist',
  'close-mid-packet',
  'no-common-kex',
  'stall',
  'post-auth-hang',
];

const [mode, host, port] = process.argv.slice(2);
if (!MODES.includes(mode as SshServerMode) || !host || !/^\d+$/.test(port ?? '')) {
  process.stderr.write(`usage: ssh-server-main <${MODES.join('|')}> <address> <port>\n`);
  process.exit(2);
}
const server = await startSshServer({ mode: mode as SshServerMode, host, port: Number(port) });
process.stdout.write(`listening ${server.port}\n`);
const stop = (): void => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// A lab's teardown kills this process (its children are tracked and killed with it).
