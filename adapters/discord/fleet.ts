// `/sshcheck target:db-[1-40]` in Discord: the platform-neutral fleet flow with a Discord
// surface. The interaction's reply is the parent (summary first: hosts by cause), and each
// host that is not healthy gets a message in a thread started from it (follow-ups where a
// thread cannot be used). Report text is clipped and made chat-safe; no mention is ever parsed.
import { MessageFlags, ThreadAutoArchiveDuration } from 'discord.js';
import type { AnyThreadChannel, ChatInputCommandInteraction, Message } from 'discord.js';
import type { FleetSurface } from '../../src/chat/fleet-flow.js';
import { runFleetFlow } from '../../src/chat/fleet-flow.js';
import { MAX_CHAT_FLEET } from '../../src/chat/fleet-grammar.js';
import type { FleetHostView, FleetParentView } from '../../src/chat/fleet-views.js';
import { fleetLabel } from '../../src/chat/fleet-views.js';
import { clip, safeText } from '../../src/chat/safe-text.js';
import { STATUS_EMOJI } from '../../src/chat/views.js';
import { isSshcheckError } from '../../src/engine/errors.js';
import { parsePort, parseUser } from '../../src/engine/target.js';
import { fleetTargets } from '../../src/fleet/targets.js';
import type { InteractionDeps } from './interaction.js';
import { noMentions } from './responder.js';
import { whyNoThread } from './thread-policy.js';
import { discordActor, renderRefusal } from './gate.js';
import type { FleetTicket } from '../../src/chat/gate.js';

const MAX_CONTENT = 2000;
const text = (raw: string, max: number): string => safeText(clip(raw, max), 'discord');
const seconds = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

export function renderDiscordFleetParent(view: FleetParentView): string {
  const s = view.summary;
  const lines = [`**sshcheck** ${view.hosts} hosts (${text(view.label, 200)}) from ${text(view.vantage, 100)}, asked by ${view.requester}`];
  const counts = s.byCause.map((c) => `${c.cause === 'healthy' ? STATUS_EMOJI.pass : STATUS_EMOJI.fail} **${c.hosts}** \`${c.cause}\``);
  if (view.phase === 'finished') {
    lines.push(`**${s.healthy} of ${view.hosts} healthy**, ${s.problems} with a problem${s.failed > 0 ? `, ${s.failed} not checked` : ''}, in ${seconds(s.durationMs)}:`, ...counts.slice(0, 30));
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
  readonly replyChannelKey?: string;
  private thread: AnyThreadChannel | undefined;

  constructor(
    private readonly interaction: ChatInputCommandInteraction,
    private readonly noThread: string | undefined,
  ) {
    this.channelKey = `discord:${interaction.channelId}`;
    this.replyChannelKey = `discord:thread:${interaction.id}`;
  }

  async postParent(view: FleetParentView): Promise<void> {
    const message: Message = await this.interaction.editReply({ content: renderDiscordFleetParent(view), allowedMentions: noMentions() });
    if (this.noThread !== undefined) return;
    try {
      this.thread = await message.startThread({ name: clip(`sshcheck ${view.hosts} hosts`, 100), autoArchiveDuration: ThreadAutoArchiveDuration.OneDay });
    } catch {
      // Follow-ups instead.
    }
  }

  async updateParent(view: FleetParentView): Promise<void> {
    await this.interaction.editReply({ content: renderDiscordFleetParent(view), allowedMentions: noMentions() });
  }

  async postHost(host: FleetHostView): Promise<void> {
    await this.send(renderDiscordFleetHost(host));
  }

  async postRest(hosts: readonly FleetHostView[]): Promise<void> {
    await this.send(clip([`**${hosts.length} more hosts with a problem:**`, ...hosts.map((h) => `• ${text(h.host, 120)}: \`${h.cause}\``)].join('\n'), MAX_CONTENT));
  }

  private async send(content: string): Promise<void> {
    if (this.thread) await this.thread.send({ content, allowedMentions: noMentions() });
    else await this.interaction.followUp({ content, allowedMentions: noMentions() });
  }
}

/**
 * The fleet check for an interaction whose target names several hosts, admitted by the gate
 * like a single check (permission, every host against the policy, limits, queue, audit).
 */
export async function handleDiscordFleet(interaction: ChatInputCommandInteraction, deps: InteractionDeps): Promise<void> {
  const raw = interaction.options.getString('target', true).trim();
  const port = interaction.options.getInteger('port');
  const user = interaction.options.getString('user');
  const answer = (content: string): Promise<unknown> => interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: noMentions() }).catch(() => undefined);
  let targets;
  const patterns = raw.split(',').filter((p) => p !== '');
  try {
    const overrides: { port?: number; user?: string } = {};
    if (port !== null) overrides.port = parsePort(port, 'port option');
    if (user !== null) overrides.user = parseUser(user);
    targets = fleetTargets({ patterns, overrides, max: MAX_CHAT_FLEET });
  } catch (err) {
    await answer(`${STATUS_EMOJI.warn} ${text(isSshcheckError(err) ? err.message : 'the hosts could not be read', 1000)} (nothing was checked)`);
    return;
  }
  let ticket: FleetTicket | undefined;
  if (deps.gate) {
    const decision = await deps.gate.admitFleet({
      targets,
      actor: discordActor(interaction),
    });
    if (decision.kind === 'denied') {
      await answer(renderRefusal(decision.message));
      return;
    }
    ticket = decision.ticket;
  }
  // A fleet takes longer than Discord's 3 s: defer, then the deferred reply becomes the parent.
  try {
    await interaction.deferReply();
  } catch (err) {
    ticket?.finish();
    throw err;
  }
  if (ticket?.queueMessage !== undefined) {
    await interaction.followUp({ content: `${STATUS_EMOJI.skip} ${text(ticket.queueMessage, 500)}`, flags: MessageFlags.Ephemeral, allowedMentions: noMentions() }).catch(() => undefined);
  }
  const noThread = whyNoThread({
    inGuild: interaction.inGuild(),
    channelType: interaction.channel?.type,
    channelKnown: interaction.guild !== null && interaction.channel !== null,
    appPermissions: interaction.appPermissions?.bitfield,
  });
  deps.logger.info('discord fleet check requested', { interaction: interaction.id, user: interaction.user.id, hosts: targets.length });
  const result = await runFleetFlow({
    surface: new DiscordFleetSurface(interaction, noThread),
    engine: ticket ? ticket.wrap(deps.engine) : deps.engine,
    pacer: deps.pacer,
    logger: deps.logger,
    targets,
    label: fleetLabel(patterns),
    vantage: deps.vantage,
    requester: `<@${interaction.user.id}>`,
  }).finally(() => ticket?.finish());
  deps.logger.info('discord fleet check done', { interaction: interaction.id, hosts: targets.length, problems: result.reports.filter((r) => r.diagnosis.cause !== 'healthy').length });
}
