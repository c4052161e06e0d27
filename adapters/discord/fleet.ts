// `/sshcheck target:db-[1-40]` in Discord: the platform-neutral fleet flow with a Discord
// surface. The interaction's reply is the parent (summary first: hosts by cause), and each
// host that is not healthy gets a message in a thread started from it (follow-ups where a
// thread cannot be used). Report text is clipped and made chat-safe; no mention is ever parsed.
import { ThreadAutoArchiveDuration } from 'discord.js';
import type { AnyThreadChannel, ButtonInteraction, ChatInputCommandInteraction, RepliableInteraction } from 'discord.js';
import { admitAndRunFleet } from '../../src/chat/admission.js';
import { SurfaceError } from '../../src/chat/check-flow.js';
import type { FleetSurface } from '../../src/chat/fleet-flow.js';
import type { FleetCommand } from '../../src/chat/fleet-grammar.js';
import type { FleetHostView, FleetParentView } from '../../src/chat/fleet-views.js';
import { fleetRerunCustomId } from '../../src/chat/rerun.js';
import { clip, safeText } from '../../src/chat/safe-text.js';
import { STATUS_EMOJI } from '../../src/chat/views.js';
import { duration } from '../../src/engine/checklist/format.js';
import type { Logger } from '../../src/log.js';
import { describeError, errorFields, isChannelRefusal } from './errors.js';
import { discordActor, renderNotice, renderRefusal } from './gate.js';
import type { InteractionDeps } from './deps.js';
import { renderRerunRow } from './render.js';
import { noMentions } from './responder.js';
import type { InteractionResponder, ReplyBody } from './responder.js';
import { paceKeys } from './surface.js';
import { threadContextOf, whyNoThread } from './thread-policy.js';

const MAX_CONTENT = 2000;
const text = (raw: string, max: number): string => safeText(clip(raw, max), 'discord');

export function renderDiscordFleetParent(view: FleetParentView): string {
  const s = view.summary;
  const lines = [`**sshcheck** ${view.hosts} hosts (${text(view.label, 200)}) from ${text(view.vantage, 100)}, asked by ${view.requester}`];
  const counts = s.byCause.map((c) => `${c.cause === 'healthy' ? STATUS_EMOJI.pass : STATUS_EMOJI.fail} **${c.hosts}** \`${c.cause}\``);
  if (view.phase === 'finished') {
    lines.push(`**${s.healthy} of ${view.hosts} healthy**, ${s.problems} with a problem${s.failed > 0 ? `, ${s.failed} not checked` : ''}, in ${duration(s.durationMs)}:`, ...counts.slice(0, 30));
    if (s.problems > 0) lines.push(`One message per host that is not healthy follows${view.notShown > 0 ? ` (the last ${view.notShown} listed together)` : ''}.`);
  } else {
    lines.push(`${STATUS_EMOJI.running} Checking… ${view.checked}/${view.hosts} done${counts.length > 0 ? `: ${counts.slice(0, 8).join(', ')}` : ''}`);
  }
  lines.push(`-# Probed from ${text(view.vantage, 100)}, not from the requester's machine.`);
  return clip(lines.join('\n'), MAX_CONTENT);
}

export function renderDiscordFleetHost(host: FleetHostView): string {
  const where = host.address !== undefined ? ` [${text(host.address, 60)}]` : '';
  const lines = [`${host.confidence === 'low' ? STATUS_EMOJI.warn : STATUS_EMOJI.fail} **${text(host.host, 200)}**${where}: \`${host.cause}\` (${host.confidence})`, text(host.summary, 900)];
  for (const n of host.next) lines.push(`• ${text(n, 300)}`);
  return clip(lines.join('\n'), MAX_CONTENT);
}

class DiscordFleetSurface implements FleetSurface {
  readonly channelKey: string;
  readonly replyChannelKey: string;
  private thread: AnyThreadChannel | undefined;
  private readonly fields: Record<string, unknown>;

  constructor(
    private readonly interaction: RepliableInteraction,
    private readonly responder: InteractionResponder,
    private readonly noThread: string | undefined,
    private readonly logger: Logger,
    /** The Re-run button's custom_id; none when the command does not fit in one. */
    private readonly rerun: string | undefined,
  ) {
    // The same pace as a single check's thread: the interaction's webhook, then the thread.
    ({ channelKey: this.channelKey, replyChannelKey: this.replyChannelKey } = paceKeys(interaction.id));
    this.fields = { interaction: interaction.id, guild: interaction.guildId, channel: interaction.channelId };
  }

  async postParent(view: FleetParentView): Promise<void> {
    const message = await this.responder.show(this.parentBody(view));
    if (message === undefined) throw new SurfaceError('cannot-post', 'the interaction token is no longer valid');
    if (this.noThread !== undefined) return;
    try {
      this.thread = await message.startThread({ name: clip(`sshcheck ${view.hosts} hosts`, 100), autoArchiveDuration: ThreadAutoArchiveDuration.OneDay });
    } catch (err) {
      this.logger.warn('discord thread creation failed; the hosts will follow the parent instead', { ...this.fields, ...errorFields(err, [this.interaction.token]) });
    }
  }

  async updateParent(view: FleetParentView): Promise<void> {
    await this.responder.show(this.parentBody(view));
  }

  private parentBody(view: FleetParentView): ReplyBody {
    const components = renderRerunRow(view, this.rerun);
    return { content: renderDiscordFleetParent(view), ...(components !== undefined ? { components } : {}) };
  }

  async postHost(host: FleetHostView): Promise<void> {
    await this.send(renderDiscordFleetHost(host), host.host);
  }

  async postRest(hosts: readonly FleetHostView[]): Promise<void> {
    await this.send(clip([`**${hosts.length} more hosts with a problem:**`, ...hosts.map((h) => `• ${text(h.host, 120)}: \`${h.cause}\``)].join('\n'), MAX_CONTENT), 'the other hosts');
  }

  private async send(content: string, what: string): Promise<void> {
    try {
      if (this.thread) await this.thread.send({ content, allowedMentions: noMentions() });
      else await this.responder.followUp({ content });
    } catch (err) {
      const why = describeError(err, [this.interaction.token]);
      throw new SurfaceError(isChannelRefusal(err) ? 'cannot-post' : 'failed', `${what}: ${why}`);
    }
  }
}

/**
 * The fleet check for an interaction whose target names several hosts, or for a click on a
 * fleet's Re-run button (already deferred): the shared admission flow, with Discord's private
 * answers and a Discord thread.
 */
export async function handleDiscordFleet(interaction: ChatInputCommandInteraction | ButtonInteraction, responder: InteractionResponder, fleet: FleetCommand, deps: InteractionDeps): Promise<void> {
  const noThread = whyNoThread(threadContextOf(interaction));
  await admitAndRunFleet({
    gate: deps.gate,
    actor: discordActor(interaction),
    fleet,
    engine: deps.engine,
    pacer: deps.pacer,
    logger: deps.logger,
    vantage: deps.vantage,
    requester: `<@${interaction.user.id}>`,
    origin: { interaction: interaction.id, user: interaction.user.id, channel: interaction.channelId },
    refuse: (message) => responder.answerPrivately(renderRefusal(message)),
    accept: async (notice) => {
      if (notice !== undefined) await responder.followUpPrivately(renderNotice(notice));
    },
    surface: () => new DiscordFleetSurface(interaction, responder, noThread, deps.logger, fleetRerunCustomId(fleet)),
  });
}
