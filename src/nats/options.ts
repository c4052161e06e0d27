// How bot, agent and CLI reach the broker: the URL (flag or SSHCHECK_NATS_URL) and the
// credentials, from the environment or files only — never the command line, where `ps`
// shows them. Secret files are re-read on every (re)connect, so rotating a creds or
// password file needs no restart. Pure apart from the injected file read.
import type { Authenticator, ConnectionOptions } from '@nats-io/transport-node';
import { credsAuthenticator, tokenAuthenticator, usernamePasswordAuthenticator } from '@nats-io/transport-node';
import { errorMessage } from '../errors.js';

type Env = Readonly<Record<string, string | undefined>>;

export const NATS_ENV_HELP = `Broker credentials come from the environment (never the command line):
  SSHCHECK_NATS_URL        the broker, e.g. nats://broker.example.com:4222 or tls://… (or --nats)
  SSHCHECK_NATS_CREDS      a NATS creds file (JWT and NKEY seed)
  SSHCHECK_NATS_USER       a user name, with SSHCHECK_NATS_PASSWORD or SSHCHECK_NATS_PASSWORD_FILE
  SSHCHECK_NATS_TOKEN      a token, or SSHCHECK_NATS_TOKEN_FILE
  SSHCHECK_NATS_CA         a CA certificate file to verify the broker's TLS certificate`;

export interface NatsSettings {
  /** The broker's URL as given, without credentials: how every message names it. */
  url: string;
  options: ConnectionOptions;
  /** Secret values the logger must scrub. */
  secrets: string[];
}

export class NatsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NatsConfigError';
  }
}

function firstLine(text: string): string {
  return text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#')) ?? '';
}

/** The broker URL, checked: a nats://, tls://, or host:port form, with no credentials in it. */
export function parseNatsUrl(raw: string): string {
  const text = raw.trim();
  const withScheme = /^[a-z]+:\/\//i.test(text) ? text : `nats://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new NatsConfigError(`"${text.slice(0, 80)}" is not a broker URL: write e.g. nats://broker.example.com:4222`);
  }
  if (url.protocol !== 'nats:' && url.protocol !== 'tls:') throw new NatsConfigError(`"${text.slice(0, 80)}": the broker URL must be nats:// or tls://`);
  if (url.username || url.password) throw new NatsConfigError('the broker URL must not carry credentials: use SSHCHECK_NATS_CREDS, SSHCHECK_NATS_USER/SSHCHECK_NATS_PASSWORD_FILE or SSHCHECK_NATS_TOKEN_FILE');
  if (url.hostname === '' || (url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) throw new NatsConfigError(`"${text.slice(0, 80)}" is not a broker URL: write e.g. nats://broker.example.com:4222`);
  return `${url.protocol}//${url.host}`;
}

/**
 * Connection settings from a URL (a flag wins over SSHCHECK_NATS_URL) and the environment.
 * Returns undefined when no broker is configured at all. `name` is how the broker lists
 * the connection (`nats server report connections`).
 */
export function natsSettings(flagUrl: string | undefined, env: Env, readFile: (path: string) => string, name: string): NatsSettings | undefined {
  const raw = flagUrl ?? env.SSHCHECK_NATS_URL;
  if (raw === undefined || raw.trim() === '') return undefined;
  const url = parseNatsUrl(raw);
  const secrets: string[] = [];
  const read = (variable: string, path: string): string => {
    let value: string;
    try {
      value = firstLine(readFile(path));
    } catch (err) {
      throw new NatsConfigError(`${variable}: cannot read ${path}: ${errorMessage(err)}`);
    }
    if (value === '') throw new NatsConfigError(`${variable}: ${path} is empty`);
    return value;
  };
  const authenticators: Authenticator[] = [];
  const given = ['SSHCHECK_NATS_CREDS', 'SSHCHECK_NATS_USER', 'SSHCHECK_NATS_TOKEN', 'SSHCHECK_NATS_TOKEN_FILE'].filter((k) => (env[k] ?? '') !== '');
  if (given.length > 1 && !(given.length === 2 && given.includes('SSHCHECK_NATS_TOKEN') && given.includes('SSHCHECK_NATS_TOKEN_FILE'))) {
    throw new NatsConfigError(`give one kind of broker credentials, not ${given.join(' and ')}`);
  }
  const credsPath = env.SSHCHECK_NATS_CREDS;
  if (credsPath) {
    // Read now to fail early with a clear message, and again on every reconnect (rotation).
    const bytes = (): Uint8Array => {
      try {
        return new TextEncoder().encode(readFile(credsPath));
      } catch (err) {
        throw new NatsConfigError(`SSHCHECK_NATS_CREDS: cannot read ${credsPath}: ${errorMessage(err)}`);
      }
    };
    if (!/-----BEGIN NATS USER JWT-----/.test(new TextDecoder().decode(bytes()))) throw new NatsConfigError(`SSHCHECK_NATS_CREDS: ${credsPath} is not a NATS creds file (no user JWT in it)`);
    authenticators.push(credsAuthenticator(bytes));
  }
  const user = env.SSHCHECK_NATS_USER;
  if (user) {
    const passFile = env.SSHCHECK_NATS_PASSWORD_FILE;
    const pass = env.SSHCHECK_NATS_PASSWORD;
    if (pass && passFile) throw new NatsConfigError('give SSHCHECK_NATS_PASSWORD or SSHCHECK_NATS_PASSWORD_FILE, not both');
    if (!pass && !passFile) throw new NatsConfigError('SSHCHECK_NATS_USER needs SSHCHECK_NATS_PASSWORD or SSHCHECK_NATS_PASSWORD_FILE');
    const first = pass ?? read('SSHCHECK_NATS_PASSWORD_FILE', passFile as string);
    secrets.push(first);
    authenticators.push(usernamePasswordAuthenticator(user, passFile ? () => read('SSHCHECK_NATS_PASSWORD_FILE', passFile) : first));
  }
  const tokenFile = env.SSHCHECK_NATS_TOKEN_FILE;
  const token = env.SSHCHECK_NATS_TOKEN;
  if (token && tokenFile) throw new NatsConfigError('give SSHCHECK_NATS_TOKEN or SSHCHECK_NATS_TOKEN_FILE, not both');
  if (token || tokenFile) {
    const first = token ?? read('SSHCHECK_NATS_TOKEN_FILE', tokenFile as string);
    secrets.push(first);
    authenticators.push(tokenAuthenticator(tokenFile ? () => read('SSHCHECK_NATS_TOKEN_FILE', tokenFile) : first));
  }
  const ca = env.SSHCHECK_NATS_CA;
  if (ca) {
    try {
      readFile(ca);
    } catch (err) {
      throw new NatsConfigError(`SSHCHECK_NATS_CA: cannot read ${ca}: ${errorMessage(err)}`);
    }
  }
  const options: ConnectionOptions = {
    servers: url.replace(/^tls:/, 'nats:'),
    name,
    // Keep trying for ever: a broker restart must not need a restart of bots and agents.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // Find a dead broker connection within ~6 s rather than the default 4 minutes.
    pingInterval: 2_000,
    maxPingOut: 3,
    ...(authenticators[0] ? { authenticator: authenticators[0] } : {}),
    ...(ca || url.startsWith('tls:') ? { tls: ca ? { caFile: ca } : {} } : {}),
  };
  return { url, options, secrets };
}
