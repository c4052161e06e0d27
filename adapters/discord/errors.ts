// What a failed Discord call means for a check. discord.js already retries 429s (its REST
// queue waits out Retry-After) and 5xx; what reaches us is final. Errors are described
// without their URL: webhook and interaction URLs carry the interaction token.
import { DiscordAPIError, DiscordjsError, HTTPError, RESTJSONErrorCodes } from 'discord.js';

/** The interaction's token no longer works (15 minutes passed, or another process answered). */
const TOKEN_GONE = new Set<number | string>([
  RESTJSONErrorCodes.UnknownWebhook,
  RESTJSONErrorCodes.UnknownInteraction,
  RESTJSONErrorCodes.InvalidWebhookToken,
  RESTJSONErrorCodes.InteractionHasAlreadyBeenAcknowledged,
]);

/** The channel or thread refuses the bot: no point in posting more there. */
const CHANNEL_REFUSED = new Set<number | string>([
  RESTJSONErrorCodes.UnknownChannel,
  RESTJSONErrorCodes.MissingAccess,
  RESTJSONErrorCodes.MissingPermissions,
  RESTJSONErrorCodes.CannotExecuteActionOnThisChannelType,
  RESTJSONErrorCodes.ThreadLocked,
  RESTJSONErrorCodes.MaximumActiveThreads,
  RESTJSONErrorCodes.MaximumActiveAnnouncementThreads,
  RESTJSONErrorCodes.CannotSendMessagesInNonTextChannel,
  RESTJSONErrorCodes.CannotSendMessagesToThisUser,
  RESTJSONErrorCodes.ThreadAlreadyCreatedForMessage,
  RESTJSONErrorCodes.InvalidActionOnArchivedThread,
]);

export function isTokenGone(err: unknown): boolean {
  return err instanceof DiscordAPIError && TOKEN_GONE.has(err.code);
}

export function isChannelRefusal(err: unknown): boolean {
  return err instanceof DiscordAPIError && (err.status === 403 || CHANNEL_REFUSED.has(err.code));
}

/** A description safe to log and to show: Discord's message and code, never the URL. */
export function describeError(err: unknown, secrets: readonly string[] = []): string {
  let text: string;
  if (err instanceof DiscordAPIError) text = `${err.message} (Discord error ${String(err.code)}, HTTP ${err.status})`;
  else if (err instanceof HTTPError) text = `HTTP ${err.status} ${err.message} from Discord`;
  else if (err instanceof DiscordjsError) text = `${err.message} (${err.code})`;
  else if (err instanceof Error) text = err.message;
  else text = String(err);
  for (const s of secrets) if (s.length >= 6) text = text.split(s).join('[redacted]');
  return text;
}

/** Fields for a log line about a failed call. */
export function errorFields(err: unknown, secrets: readonly string[] = []): Record<string, unknown> {
  const fields: Record<string, unknown> = { error: describeError(err, secrets) };
  if (err instanceof DiscordAPIError) {
    fields.code = err.code;
    fields.status = err.status;
    fields.method = err.method;
  }
  return fields;
}
