// Which chat adapters to start, from the environment. Pure: env in, configs or a message
// that says exactly what to set. Secrets come only from the environment (or files it
// names), never from chat, and are never logged.
import { MAX_SECRET_FILE_BYTES, readConfigFile } from '../config/config-file.js';

export interface SlackConfig {
  botToken: string;
  mode: { kind: 'socket'; appToken: string } | { kind: 'http'; signingSecret: string; port: number };
  /** Base URL of the Web API (proxies, Enterprise setups, tests); ends with a slash. */
  apiUrl?: string;
}

export interface DiscordConfig {
  token: string;
  applicationId: string;
  /** REST base URL (proxies, tests), e.g. http://127.0.0.1:9999/api. */
  apiUrl?: string;
}

export interface BotConfig {
  slack?: SlackConfig;
  discord?: DiscordConfig;
  vantage?: string;
  /** SSHCHECK_CONFIG: the routing config (bastions running `sshcheck serve`, and rules). */
  configPath?: string;
  /** Every secret value, so logs can scrub them whatever their shape. */
  secrets: string[];
}

export const BOT_HELP = `sshcheck bot starts every chat adapter whose credentials are set:
  Slack, Socket Mode (default):  SLACK_BOT_TOKEN and SLACK_APP_TOKEN
  Slack, HTTP receiver:          SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (SLACK_PORT, default 3000)
  Discord:                       DISCORD_TOKEN and DISCORD_APPLICATION_ID
Optional: SLACK_API_URL, DISCORD_API_URL (other API base URLs), SSHCHECK_VANTAGE (this bastion's name).
Any variable can instead be given as <NAME>_FILE, the path of a file holding the value.
Bastions: SSHCHECK_CONFIG, the path of a YAML file listing bastions that run \`sshcheck serve\`
and rules routing targets to them (docs/deploy.md). Without it, or with no bastions in it,
the probes run in this process.`;

type Env = Readonly<Record<string, string | undefined>>;

/** NAME, or the contents of the file NAME_FILE points to (for secrets mounted as files). */
export function envValue(env: Env, name: string, read: (path: string) => string = (p) => readConfigFile(p, `${name}_FILE`, MAX_SECRET_FILE_BYTES)): string | undefined {
  const direct = env[name];
  if (direct !== undefined && direct.trim() !== '') return direct.trim();
  const file = env[`${name}_FILE`];
  if (file !== undefined && file.trim() !== '') return read(file.trim()).trim();
  return undefined;
}

function apiUrl(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} is not a URL: set it to e.g. https://slack.example.com/api/`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${name} must be an http(s) URL`);
  return url.href.endsWith('/') ? url.href : `${url.href}/`;
}

export function botConfigFromEnv(env: Env, read?: (path: string) => string): BotConfig {
  const get = (name: string): string | undefined => envValue(env, name, read);
  const config: BotConfig = { secrets: [] };
  const botToken = get('SLACK_BOT_TOKEN');
  const appToken = get('SLACK_APP_TOKEN');
  const signingSecret = get('SLACK_SIGNING_SECRET');
  if (botToken !== undefined) {
    let mode: SlackConfig['mode'];
    if (appToken !== undefined) mode = { kind: 'socket', appToken };
    else if (signingSecret !== undefined) {
      const portText = get('SLACK_PORT') ?? '3000';
      const port = Number(portText);
      if (!/^[0-9]{1,5}$/.test(portText) || port < 1 || port > 65535) throw new Error(`SLACK_PORT must be a port number (1-65535), not "${portText}"`);
      mode = { kind: 'http', signingSecret, port };
    } else {
      throw new Error('SLACK_BOT_TOKEN is set, but neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET (HTTP receiver) is');
    }
    const url = apiUrl(get('SLACK_API_URL'), 'SLACK_API_URL');
    config.slack = { botToken, mode, ...(url ? { apiUrl: url } : {}) };
    config.secrets.push(botToken, ...(appToken ? [appToken] : []), ...(signingSecret ? [signingSecret] : []));
  } else if (appToken !== undefined || signingSecret !== undefined) {
    throw new Error('SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is set without SLACK_BOT_TOKEN');
  }
  const discordToken = get('DISCORD_TOKEN');
  const applicationId = get('DISCORD_APPLICATION_ID');
  if (discordToken !== undefined) {
    if (applicationId === undefined || !/^[0-9]{15,25}$/.test(applicationId)) throw new Error('DISCORD_TOKEN is set; DISCORD_APPLICATION_ID must be set too (the application id, digits only)');
    const url = get('DISCORD_API_URL');
    if (url !== undefined) apiUrl(url, 'DISCORD_API_URL');
    config.discord = { token: discordToken, applicationId, ...(url ? { apiUrl: url.replace(/\/$/, '') } : {}) };
    config.secrets.push(discordToken);
  }
  const vantage = get('SSHCHECK_VANTAGE');
  if (vantage !== undefined) config.vantage = vantage;
  // A path, not a secret: read directly (no _FILE indirection).
  const configPath = env.SSHCHECK_CONFIG?.trim();
  if (configPath) config.configPath = configPath;
  return config;
}
