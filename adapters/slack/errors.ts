// Slack Web API failures as the chat layer understands them. "cannot-post" means this
// conversation will not take the bot's messages at all (the thread is abandoned and the
// answer goes through the fallback); anything else is one failed operation.
import { SurfaceError } from '../../src/chat/check-flow.js';
import { postOutcomeUnknown } from './requests.js';
import { errorMessage } from '../../src/errors.js';

/** Errors after which posting in that conversation cannot work, with what a person should know. */
const CANNOT_POST: Readonly<Record<string, string>> = {
  not_in_channel: 'the bot is not a member of this channel',
  channel_not_found: 'the bot cannot see this conversation (a private channel or a direct message it is not part of)',
  is_archived: 'this channel is archived',
  restricted_action: 'posting in this channel is restricted by a workspace setting',
  restricted_action_read_only_channel: 'this channel is read-only',
  restricted_action_thread_only_channel: 'this channel only takes replies in threads',
  restricted_action_non_threadable_channel: 'this channel does not take thread replies',
  cannot_reply_to_message: 'that message cannot be replied to in a thread',
  team_access_not_granted: 'the app is not allowed in the workspace this conversation belongs to',
  ekm_access_denied: 'the workspace administrators have suspended posting',
  missing_scope: 'the app is missing the chat:write scope: reinstall it from manifest.yml',
  not_authed: 'the bot token was not accepted',
  invalid_auth: 'the bot token was not accepted',
  account_inactive: 'the bot token belongs to a deleted user or an uninstalled app',
  token_revoked: 'the bot token was revoked',
};

interface PlatformErrorShape {
  code: 'slack_webapi_platform_error';
  data: { error: string };
}

function isPlatformError(err: unknown): err is PlatformErrorShape {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; data?: { error?: unknown } };
  return e.code === 'slack_webapi_platform_error' && typeof e.data?.error === 'string';
}

/** The Slack error code (`not_in_channel`) or the SDK's own code, for logs and tests. */
export function slackErrorCode(err: unknown): string | undefined {
  if (isPlatformError(err)) return err.data.error;
  if (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string') return (err as { code: string }).code;
  return undefined;
}

/** Maps what a WebClient call or respond() threw to a SurfaceError. */
export function toSurfaceError(err: unknown, what: string): SurfaceError {
  if (err instanceof SurfaceError) return err;
  if (isPlatformError(err)) {
    const code = err.data.error;
    const meaning = CANNOT_POST[code];
    if (meaning !== undefined) return new SurfaceError('cannot-post', `${meaning} (${code})`, code);
    return new SurfaceError('failed', `${what}: Slack answered ${code}`, code);
  }
  // Said as it is (the client's wrapper would only add "A request error occurred").
  const unknown = postOutcomeUnknown(err);
  if (unknown) return new SurfaceError('failed', `${what}: ${unknown.message}`, unknown.code);
  const message = errorMessage(err);
  return new SurfaceError('failed', `${what}: ${message}`, slackErrorCode(err));
}

