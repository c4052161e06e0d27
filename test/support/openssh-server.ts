// A throwaway OpenSSH sshd for tests: a fresh host key, a config in a private directory, a
// free loopback port, `sshd -D` (in the foreground, so the test holds its pid) logging to a
// file, ready once it says "Server listening on". The lab (test/lab/lab.ts) starts its sshd
// in a network namespace with the same config text and key generation from here.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort } from './serve-child.js';

export const SSHD = '/usr/sbin/sshd';
/** How long sshd may take to listen: generous, the machine is shared. */
const READY_MS = 10_000;

/** Why a real sshd cannot be started here, or undefined when it can. */
export function sshdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'starting sshd needs root (privilege separation)';
  if (!existsSync(SSHD)) return `${SSHD} is not installed`;
  if (spawnSync('ssh-keygen', ['-?']).error !== undefined) return 'ssh-keygen is not installed';
  return undefined;
}

export interface KeygenOptions {
  type?: 'ed25519' | 'ecdsa' | 'rsa';
  bits?: number;
  comment?: string;
}

/** ssh-keygen, quiet; throws with its stderr when it fails. */
export function sshKeygen(args: readonly string[]): void {
  const r = spawnSync('ssh-keygen', ['-q', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen ${args.join(' ')}: ${r.stderr}`);
}

/** A key pair without a passphrase at `path` (and `path`.pub). */
export function keygen(path: string, opts: KeygenOptions = {}): void {
  sshKeygen(['-t', opts.type ?? 'ed25519', ...(opts.bits !== undefined ? ['-b', String(opts.bits)] : []), '-N', '', ...(opts.comment !== undefined ? ['-C', opts.comment] : []), '-f', path]);
}

/** The public half of a key file as a known_hosts / authorized_keys entry: "type base64". */
export function publicKeyOf(path: string): string {
  return readFileSync(`${path}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
}

export interface SshdConfigOptions {
  listen: string;
  port: number;
  hostKeys: readonly string[];
  /** Where the pid file and authorized_keys live. */
  dir: string;
  /** Lines of the test's own; sshd keeps the first value it reads for a keyword, so they go first. */
  settings?: readonly string[];
}

export function sshdConfig(opts: SshdConfigOptions): string {
  return [
    ...(opts.settings ?? []),
    `ListenAddress ${opts.listen}`,
    `Port ${opts.port}`,
    ...opts.hostKeys.map((k) => `HostKey ${k}`),
    `PidFile ${join(opts.dir, `sshd_${opts.port}.pid`)}`,
    `AuthorizedKeysFile ${join(opts.dir, 'authorized_keys')}`,
    'UsePAM no',
    'StrictModes no',
    '',
  ].join('\n');
}

export interface SshdOptions {
  /** Extra sshd_config lines ("KexAlgorithms curve25519-sha256"); they win over the defaults. */
  settings?: readonly string[];
  /** Host key files to use; default: one fresh ed25519 key in the sshd's directory. */
  hostKeys?: readonly string[];
}

export interface Sshd {
  port: number;
  /** The sshd's private directory: host key, config, log, authorized_keys. Removed by stop(). */
  dir: string;
  /** The first host key file. */
  hostKey: string;
  /** What sshd logged so far. */
  log(): string;
  /** Stops sshd (SIGTERM, SIGKILL after 2 s) and removes its directory. */
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A real sshd on 127.0.0.1. Call sshdUnavailable() first and skip with its reason. */
export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-sshd-'));
  const hostKeys = opts.hostKeys ?? [join(dir, 'hostkey')];
  try {
    if (opts.hostKeys === undefined) keygen(join(dir, 'hostkey'), { comment: 'sshcheck-test-host' });
    // sshd refuses to start without its privilege separation directory.
    mkdirSync('/run/sshd', { recursive: true });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const port = await closedPort();
  const config = join(dir, 'sshd_config');
  const logFile = join(dir, 'sshd.log');
  writeFileSync(logFile, '');
  writeFileSync(config, sshdConfig({ listen: '127.0.0.1', port, hostKeys, dir, ...(opts.settings ? { settings: opts.settings } : {}) }));
  const child = spawn(SSHD, ['-D', '-f', config, '-E', logFile], { stdio: 'ignore' });
  let exited = child.exitCode !== null;
  const gone = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', () => {
      exited = true;
      resolve();
    });
  });
  const log = (): string => readFileSync(logFile, 'utf8');
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let waited = 0; !log().includes('Server listening on'); waited += 50) {
    if (exited || waited >= READY_MS) {
      const text = log();
      await stop();
      throw new Error(`sshd did not start${exited ? '' : ` within ${READY_MS} ms`}: ${text.slice(0, 500)}`);
    }
    await sleep(50);
  }
  return { port, dir, hostKey: hostKeys[0] ?? '', log, stop };
}
