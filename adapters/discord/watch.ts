// Watches on Discord (issue 16): /sshcheck with the `watch` option ("every 30s for 2h", "on"
// for the defaults, "stop" to end this target's watch), and the Stop button on a watch's
// parent. The options become the chat grammar's watch command (src/chat/watch-grammar.ts),
// validated there as typed text is. The parent is a channel message the bot posts itself, not
// the interaction's reply: an interaction token dies after 15 minutes and a watch runs hours;
// channel, message and thread ids are in the store, so a restarted bot edits the same message.
// Posting goes through the REST client directly (no cache is needed after a restart).
import { ButtonStyle, ComponentType, Routes } from 'discord.js';
import type { APIActionRowComponent, APIComponentInMessageActionRow, APIEmbed, APIMessage, ButtonInteraction, ChatInputCommandInteraction, Client, Interaction } from 'discord.js';
import type { GateActor } from '../../src/chat/gate.js';
import { clip } from '../../src/chat/safe-text.js';
import type { WatchPlace, WatchPoster, WatchRunner } from '../../src/chat/watch-runner.js';
import type { WatchView } from '../../src/chat/watch.js';
import { spanText, utcClock, watchLines } from '../../src/chat/watch.js';
import type { WatchCommand } from '../../src/chat/watch-grammar.js';
import { parseWatchCommand } from '../../src/chat/watch-grammar.js';
import { isSshcheckError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { RecentIds } from '../../src/chat/dedupe.js';
import { errorFields } from './errors.js';
import { rolesOf, renderRefusal } from './gate.js';
import { inlineWithin } from './render.js';
import { noMentions } from './responder.js';
import { responderFor } from './interaction.js';

/** The Stop button's custom_id starts with this; the rest is the watch's id. */
export const WATCH_STOP_PREFIX = 'sshcheck_watch_stop:';

const COLOR = { watching: 0x5865f2, stopped: 0x99aab5 } as const;

/** The parent: what, from where, for whom; the state and since when; the schedule; Stop. Pure. */
export function renderWatchParent(view: WatchView, now = Date.now()): { embeds: APIEmbed[]; components: Array<APIActionRowComponent<APIComponentInMessageActionRow>> } {
  const lines = watchLines(view, now, utcClock);
  // The state, schedule and stop lines are sshcheck's own words (cause codes, times, a mention
  // the adapter built): clipped, not escaped. The target and the note go through safe text.
  const description = [`${inlineWithin(view.target, 300)} from ${inlineWithin(view.bastion, 100)}, asked by ${clip(view.requester, 40)}`, clip(lines.state, 400), clip(lines.schedule, 400), ...(lines.note !== undefined ? [inlineWithin(lines.note, 600)] : []), ...(view.stopped !== undefined ? [clip(view.stopped, 1000)] : [])].join('\n');
  const embed: APIEmbed = { title: 'sshcheck watch', description, color: view.stopped !== undefined ? COLOR.stopped : COLOR.watching };
  const components: Array<APIActionRowComponent<APIComponentInMessageActionRow>> =
    view.stopped !== undefined ? [] : [{ type: ComponentType.ActionRow, components: [{ type: ComponentType.Button, style: ButtonStyle.Danger, label: 'Stop', custom_id: `${WATCH_STOP_PREFIX}${view.id}` }] }];
  return { embeds: [embed], components };
}

export class DiscordWatchPoster implements WatchPoster {
  /** Roles seen with each person's last watch command; a resumed watch after a restart has none. */
  private readonly roles = new Map<string, string[]>();

  constructor(private readonly client: Client) {}

  remember(who: { channel: string; user: string }, roles: string[]): void {
    this.roles.set(`${who.channel}:${who.user}`, roles);
  }

  async postParent(place: Pick<WatchPlace, 'channel'>, view: WatchView): Promise<{ parentRef: string; threadRef?: string }> {
    const message = (await this.client.rest.post(Routes.channelMessages(place.channel), { body: { ...renderWatchParent(view), allowed_mentions: noMentions() } })) as APIMessage;
    try {
      const thread = (await this.client.rest.post(Routes.threads(place.channel, message.id), { body: { name: clip(`sshcheck watch ${view.target}`, 100), auto_archive_duration: 1440 } })) as { id: string };
      return { parentRef: message.id, threadRef: thread.id };
    } catch {
      // No thread here (a DM, a missing permission): the changes are posted as replies to the parent.
      return { parentRef: message.id };
    }
  }

  async updateParent(place: WatchPlace, view: WatchView): Promise<void> {
    if (place.parentRef === null) return;
    await this.client.rest.patch(Routes.channelMessage(place.channel, place.parentRef), { body: renderWatchParent(view) });
  }

  async postInThread(place: WatchPlace, text: string): Promise<void> {
    const body = { content: clip(text, 1900), allowed_mentions: noMentions(), ...(place.threadRef === null && place.parentRef !== null ? { message_reference: { message_id: place.parentRef } } : {}) };
    await this.client.rest.post(Routes.channelMessages(place.threadRef ?? place.channel), { body });
  }

  actor(who: { workspace: string | null; channel: string; user: string }): GateActor {
    const roles = this.roles.get(`${who.channel}:${who.user}`) ?? [];
    return { platform: 'discord', user: who.user, channel: who.channel, ...(who.workspace !== null ? { workspace: who.workspace } : {}), groups: () => Promise.resolve(roles) };
  }
}

/** The typed options as the grammar's watch command text (the grammar validates every word). Pure. */
export function watchText(options: { target: string; port: number | null; user: string | null; via: string | null; from: string | null; watch: string }): string {
  const value = options.watch.trim().toLowerCase();
  const where = [options.target, ...(options.port !== null || options.user !== null ? [String(options.port ?? 22)] : []), ...(options.user !== null ? [options.user] : [])];
  if (value === 'stop') return ['unwatch', ...where.slice(0, 2)].join(' ');
  const spans = value === 'on' || value === '' ? [] : [options.watch.trim()];
  return ['watch', ...where, ...spans, ...(options.via !== null ? ['via', options.via] : []), ...(options.from !== null ? ['from', options.from] : [])].join(' ');
}

export interface DiscordWatchDeps {
  logger: Logger;
  seen: RecentIds;
  watches?: WatchRunner;
  poster?: DiscordWatchPoster;
  bastions: readonly string[] | undefined;
}

/** True for /sshcheck with the `watch` option. */
export function isWatchCommand(interaction: Interaction): interaction is ChatInputCommandInteraction {
  return interaction.isChatInputCommand() && interaction.commandName === 'sshcheck' && interaction.options.getString('watch') !== null;
}

export function isWatchStop(interaction: Interaction): interaction is ButtonInteraction {
  return interaction.isButton() && interaction.customId.startsWith(WATCH_STOP_PREFIX);
}

export async function handleWatchCommand(interaction: ChatInputCommandInteraction, deps: DiscordWatchDeps): Promise<void> {
  if (!deps.seen.first(interaction.id)) return;
  const responder = responderFor(interaction, deps.logger);
  let command: WatchCommand | undefined;
  try {
    const text = watchText({
      target: interaction.options.getString('target', true),
      port: interaction.options.getInteger('port'),
      user: interaction.options.getString('user'),
      via: interaction.options.getString('via'),
      from: interaction.options.getString('from'),
      watch: interaction.options.getString('watch') ?? '',
    });
    command = parseWatchCommand(text, { ...(deps.bastions !== undefined ? { bastions: deps.bastions } : {}), ...(deps.watches ? { limits: deps.watches.watchLimits } : {}) });
  } catch (err) {
    if (!isSshcheckError(err)) throw err;
    await responder.answerPrivately(renderRefusal(`${err.message} (nothing is watched)`));
    return;
  }
  if (command === undefined) return;
  if (!deps.watches || !deps.poster) {
    await responder.answerPrivately(renderRefusal('This bot runs no watches (it has no store for them). Nothing is watched.'));
    return;
  }
  // The gate and the store may take longer than Discord's 3 s.
  await responder.defer();
  const mention = `<@${interaction.user.id}>`;
  if (command.kind === 'unwatch') {
    const stopped = await deps.watches.unwatch('discord', interaction.channelId, command.host, command.port, mention);
    await responder.answerPrivately(renderRefusal(stopped > 0 ? `Stopped ${stopped === 1 ? 'the watch' : `${stopped} watches`} of ${command.host}:${command.port} in this channel.` : `No watch of ${command.host}:${command.port} runs in this channel.`));
    return;
  }
  deps.poster.remember({ channel: interaction.channelId, user: interaction.user.id }, rolesOf(interaction));
  const started = await deps.watches.start({ platform: 'discord', workspace: interaction.guildId, channel: interaction.channelId, user: interaction.user.id, requester: mention, command });
  if (started.kind === 'refused') {
    await responder.answerPrivately(renderRefusal(started.message));
    return;
  }
  deps.logger.info('discord watch requested', { interaction: interaction.id, user: interaction.user.id, channel: interaction.channelId, id: started.id });
  await responder.answerPrivately(
    inlineWithin(`Watching ${command.target.user}@${command.target.host}:${command.target.port} every ${spanText(command.everyMs)} for ${spanText(command.forMs)}: its message in this channel shows the state, its thread each change.`, 600),
  );
}

export async function handleWatchStop(interaction: ButtonInteraction, deps: DiscordWatchDeps): Promise<void> {
  if (!deps.seen.first(interaction.id)) return;
  const responder = responderFor(interaction, deps.logger);
  const id = interaction.customId.slice(WATCH_STOP_PREFIX.length);
  await responder.defer();
  const stopped = /^[0-9a-f-]{36}$/.test(id) && deps.watches !== undefined && (await deps.watches.stopById('discord', interaction.channelId, id, `<@${interaction.user.id}>`));
  if (!stopped) deps.logger.info('discord watch stop refused: no such watch runs here', { interaction: interaction.id, user: interaction.user.id });
  await responder.answerPrivately(stopped ? 'Stopped the watch.' : renderRefusal('This watch is not running any more (or this button is not one sshcheck made): nothing was stopped.')).catch((err: unknown) => {
    deps.logger.warn('discord watch stop answer failed', { interaction: interaction.id, ...errorFields(err, [interaction.token]) });
  });
}

/** The handler for a watch command or a Stop click; undefined for every other interaction. */
export function routeWatchInteraction(interaction: Interaction, deps: DiscordWatchDeps): Promise<void> | undefined {
  if (isWatchCommand(interaction)) return handleWatchCommand(interaction, deps);
  if (isWatchStop(interaction)) return handleWatchStop(interaction, deps);
  return undefined;
}
