// Who asked, as Slack should show it: a user mention built only from a well-formed user id.
import { fitInline } from './limits.js';

const USER_ID = /^[UW][A-Z0-9]{2,20}$/;

export function requesterMention(userId: string | undefined, userName?: string): string {
  if (userId !== undefined && USER_ID.test(userId)) return `<@${userId}>`;
  return fitInline(userName ?? 'someone', 80);
}

export function isUserId(value: unknown): value is string {
  return typeof value === 'string' && USER_ID.test(value);
}

/** A direct message or a group DM: the bot is never "invited" there. */
export function isDirectConversation(channelId: string, channelName?: string): boolean {
  return channelId.startsWith('D') || channelName === 'directmessage' || (channelName?.startsWith('mpdm-') ?? false);
}
