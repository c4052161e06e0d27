// Whether a check's steps can go into a thread started from the reply, decided before any
// call is made where Discord has already told us (the channel type and the bot's
// permissions come with the interaction). Pure. The API can still refuse; the surface then
// falls back the same way.
import { ChannelType, PermissionFlagsBits } from 'discord.js';
import type { RepliableInteraction } from 'discord.js';

/** What the thread plan needs in the channel, with the names Discord's settings use. */
export const THREAD_PERMISSIONS: ReadonlyArray<readonly [bigint, string]> = [
  [PermissionFlagsBits.ViewChannel, 'View Channel'],
  [PermissionFlagsBits.CreatePublicThreads, 'Create Public Threads'],
  [PermissionFlagsBits.SendMessagesInThreads, 'Send Messages in Threads'],
  // Without it Discord silently drops the embeds of the bot's own messages.
  [PermissionFlagsBits.EmbedLinks, 'Embed Links'],
];

export interface ThreadContext {
  inGuild: boolean;
  /** The channel's type, when Discord sent it. */
  channelType: ChannelType | undefined;
  /** Whether the bot can see the channel (it is in the cache from GUILD_CREATE). */
  channelKnown: boolean;
  /** The app's permissions in the channel (the interaction's app_permissions). */
  appPermissions: bigint | undefined;
}

/** What the interaction tells about its channel. */
export function threadContextOf(interaction: RepliableInteraction): ThreadContext {
  const channel = interaction.channel;
  return {
    inGuild: interaction.inGuild(),
    channelType: channel?.type,
    channelKnown: interaction.guild !== null && channel !== null,
    appPermissions: interaction.appPermissions?.bitfield,
  };
}

const THREADS_ALLOWED = new Set<ChannelType>([ChannelType.GuildText, ChannelType.GuildAnnouncement]);

/** Why no thread can be used here, or undefined when one can. */
export function whyNoThread(ctx: ThreadContext): string | undefined {
  if (!ctx.inGuild) return 'threads cannot be started in direct messages';
  if (ctx.channelType !== undefined && !THREADS_ALLOWED.has(ctx.channelType)) {
    const inThread = ctx.channelType === ChannelType.PublicThread || ctx.channelType === ChannelType.PrivateThread || ctx.channelType === ChannelType.AnnouncementThread;
    return inThread
      ? 'the command was used inside a thread, and a thread cannot have threads of its own'
      : 'this kind of channel has no threads (only text and announcement channels do)';
  }
  if (!ctx.channelKnown) return 'the bot cannot see this channel (is it a member of this server, with View Channel?)';
  const granted = ctx.appPermissions;
  if (granted !== undefined) {
    const missing = THREAD_PERMISSIONS.filter(([bit]) => (granted & bit) !== bit).map(([, name]) => name);
    if (missing.length > 0) return `the bot lacks the permission${missing.length > 1 ? 's' : ''} ${missing.join(', ')} in this channel`;
  }
  return undefined;
}

/** All permissions the bot needs, as the integer an invite URL carries. */
export function invitePermissions(): bigint {
  return THREAD_PERMISSIONS.reduce((acc, [bit]) => acc | bit, PermissionFlagsBits.SendMessages);
}
