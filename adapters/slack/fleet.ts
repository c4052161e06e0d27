// `/sshcheck db-[1-40]` in Slack: the platform-neutral fleet flow (src/chat/fleet-flow.ts) with
// a Slack surface. The parent is a channel message (summary first: hosts by cause), each host
// that is not healthy a reply in its thread. Text from reports is clipped and made chat-safe
// like every other Slack message (limits.ts).
import type { RespondFn, webApi } from '@slack/bolt';
import type { FleetSurface } from '../../src/chat/fleet-flow.js';
import { runFleetFlow } from '../../src/chat/fleet-flow.js';
import type { FleetTicket } from '../../src/chat/gate.js';
import type { FleetCommand } from '../../src/chat/fleet-grammar.js';
import { parseFleetCommand } from '../../src/chat/fleet-grammar.js';
import { isSshcheckError } from '../../src/engine/errors.js';
import type { FleetHostView, FleetParentView } from '../../src/chat/fleet-views.js';
import { STATUS_EMOJI } from '../../src/chat/views.js';
import { CAUSES } from '../../src/engine/report.js';
import { errorText } from './errors.js';
import { fitInline, fitMessageText } from './limits.js';
import type { ListenerDeps } from './listeners.js';
import type { SlackBlock, SlackMessage } from './render.js';
import { capBlocks } from './render.js';
import { channelKey } from './surface.js';
import { renderRefusal, slackActor } from './gate.js';

const section = (text: string): SlackBlock => ({ type: 'section', text: { type: 'mrkdwn', text } });
const context = (text: string): SlackBlock => ({ type: 'context', elements: [{ type: 'mrkdwn', text }] });
const code = (cause: string): string => ((CAUSES as readonly string[]).includes(cause) ? `\`${cause}\`` : fitInline(cause, 60));
const seconds = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

export function renderFleetParent(view: FleetParentView): SlackMessage {
  const s = view.summary;
  const head = `*sshcheck* ${view.hosts} hosts (${fitInline(view.label, 300)}) from ${fitInline(view.vantage, 200)}, asked by ${view.requester.length <= 100 ? view.requester : fitInline(view.requester, 100)}`;
  const counts = s.byCause.map((c) => `${c.cause === 'healthy' ? STATUS_EMOJI.pass : STATUS_EMOJI.fail} *${c.hosts}* ${code(c.cause)}`);
  if (s.failed > 0) counts.push(`${STATUS_EMOJI.warn} *${s.failed}* not checked (engine failure)`);
  const blocks: SlackBlock[] = [section(head)];
  if (view.phase === 'finished') {
    blocks.push(section(`*${s.healthy} of ${view.hosts} healthy*, ${s.problems} with a problem${s.failed > 0 ? `, ${s.failed} not checked` : ''}, in ${seconds(s.durationMs)}:\n${counts.slice(0, 40).join('\n')}`));
    if (s.problems > 0) blocks.push(context(`One reply per host that is not healthy follows in the thread${view.notShown > 0 ? ` (the last ${view.notShown} listed in one reply)` : ''}.`));
  } else if (view.phase === 'failed') {
    blocks.push(section(`${STATUS_EMOJI.fail} The fleet check failed: ${fitInline(view.error ?? 'unknown error', 1000)}`));
  } else {
    blocks.push(context(`${STATUS_EMOJI.running} Checking… ${view.checked}/${view.hosts} done${counts.length > 0 ? `: ${counts.slice(0, 10).join(', ')}` : ''}`));
  }
  blocks.push(context(`Probed from ${fitInline(view.vantage, 200)}, not from the requester's machine: what works here can still fail there.`));
  const text = view.phase === 'finished' ? `sshcheck ${view.hosts} hosts: ${s.healthy} healthy, ${s.problems} with a problem` : `sshcheck ${view.hosts} hosts: checking…`;
  return { text: fitMessageText([text]), blocks: capBlocks(blocks) };
}

export function renderFleetHost(host: FleetHostView): SlackMessage {
  const where = host.address !== undefined ? ` [${fitInline(host.address, 60)}]` : '';
  const title = `${host.confidence === 'low' ? STATUS_EMOJI.warn : STATUS_EMOJI.fail} *${fitInline(host.host, 200)}*${where}: ${code(host.cause)} (${host.confidence})`;
  const blocks = [section(`${title}\n${fitInline(host.summary, 2000)}`)];
  if (host.next.length > 0) blocks.push(section(`*Next:*\n${host.next.map((n) => `• ${fitInline(n, 600)}`).join('\n')}`));
  blocks.push(context(`Every step for this host: \`/sshcheck ${fitInline(host.host, 200)}\``));
  return { text: fitMessageText([`${fitInline(host.host, 200)}: ${host.cause}`]), blocks: capBlocks(blocks) };
}

export function renderFleetRest(hosts: readonly FleetHostView[]): SlackMessage {
  const lines = hosts.map((h) => `• ${fitInline(h.host, 120)}: ${code(h.cause)}`);
  const pieces: string[] = [];
  let current = `*${hosts.length} more hosts with a problem:*`;
  for (const line of lines) {
    if (current.length + line.length + 1 > 2900) {
      pieces.push(current);
      current = line;
    } else current += `\n${line}`;
  }
  pieces.push(current);
  return { text: fitMessageText([`${hosts.length} more hosts with a problem`]), blocks: capBlocks(pieces.map(section)) };
}

/** The fleet command in the text, a usage error for the person, or undefined (a single-host command). */
export function parseFleetRequest(text: string): FleetCommand | { kind: 'error'; message: string } | undefined {
  try {
    return parseFleetCommand(text);
  } catch (err) {
    if (isSshcheckError(err)) return { kind: 'error', message: err.message };
    throw err;
  }
}

class SlackFleetSurface implements FleetSurface {
  readonly channelKey: string;
  private channel: string;
  private parentTs: string | undefined;

  constructor(
    private readonly client: webApi.WebClient,
    channel: string,
    private readonly respond: RespondFn | undefined,
  ) {
    this.channel = channel;
    this.channelKey = channelKey(channel);
  }

  async postParent(view: FleetParentView): Promise<void> {
    const res = await this.client.chat.postMessage({ channel: this.channel, ...renderFleetParent(view), unfurl_links: false, unfurl_media: false });
    if (typeof res.ts !== 'string') throw new Error('chat.postMessage answered without a message ts');
    if (typeof res.channel === 'string' && res.channel !== '') this.channel = res.channel;
    this.parentTs = res.ts;
  }

  async updateParent(view: FleetParentView): Promise<void> {
    if (this.parentTs === undefined) throw new Error('the first message was never posted');
    await this.client.chat.update({ channel: this.channel, ts: this.parentTs, ...renderFleetParent(view) });
  }

  async postHost(host: FleetHostView): Promise<void> {
    if (this.parentTs === undefined) throw new Error('there is no thread to reply in');
    await this.client.chat.postMessage({ channel: this.channel, thread_ts: this.parentTs, ...renderFleetHost(host), unfurl_links: false, unfurl_media: false });
  }

  async postRest(hosts: readonly FleetHostView[]): Promise<void> {
    if (this.parentTs === undefined) throw new Error('there is no thread to reply in');
    await this.client.chat.postMessage({ channel: this.channel, thread_ts: this.parentTs, ...renderFleetRest(hosts), unfurl_links: false, unfurl_media: false });
  }

  async fallback(view: FleetParentView, reason: string): Promise<void> {
    // Where the bot cannot post (not in the channel), the summary still reaches the requester.
    if (!this.respond) return;
    const message = renderFleetParent(view);
    await this.respond({ response_type: 'ephemeral', replace_original: false, text: `${STATUS_EMOJI.warn} ${fitInline(reason, 500)}\n${message.text}`, blocks: [section(`${STATUS_EMOJI.warn} I could not post in this channel: ${fitInline(reason, 500)}`), ...message.blocks] });
  }
}

/**
 * Runs a fleet command from /sshcheck: asks the gate (permission, every host against the
 * policy, limits, the queue; audit rows per host), acks privately, then posts the thread.
 */
export async function startSlackFleet(
  deps: ListenerDeps,
  fleet: FleetCommand,
  request: { team?: string; channel: string; user: string; requester: string; ack: (answer: { response_type: 'ephemeral'; text: string; blocks?: SlackBlock[] }) => Promise<void>; respond?: RespondFn },
): Promise<void> {
  let ticket: FleetTicket | undefined;
  if (deps.gate) {
    const decision = await deps.gate.admitFleet({
      targets: fleet.targets,
      actor: slackActor(request, deps.userGroups),
    });
    if (decision.kind === 'denied') {
      await request.ack({ response_type: 'ephemeral', ...renderRefusal(decision.message) });
      return;
    }
    ticket = decision.ticket;
  }
  const admitted = ticket;
  try {
    const queued = admitted?.queueMessage !== undefined ? `\n${fitInline(admitted.queueMessage, 500)}` : '';
    await request.ack({ response_type: 'ephemeral', text: `Checking ${fleet.targets.length} hosts (${fitInline(fleet.label, 300)}) from ${fitInline(deps.vantage, 200)}…${queued}` });
  } catch (err) {
    deps.logger.error('acknowledging the slash command failed', { channel: request.channel, user: request.user, error: errorText(err) });
  }
  deps.logger.info('fleet check requested', { channel: request.channel, user: request.user, hosts: fleet.targets.length, label: fleet.label });
  const surface = new SlackFleetSurface(deps.client, request.channel, request.respond);
  deps.runner.track((engine) =>
    runFleetFlow({ surface, engine: admitted ? admitted.wrap(engine) : engine, pacer: deps.pacer, logger: deps.logger, targets: fleet.targets, label: fleet.label, vantage: deps.vantage, requester: request.requester })
      .then(
        (r) => deps.logger.info('fleet check finished', { channel: request.channel, hosts: fleet.targets.length, problems: r.reports.filter((x) => x.diagnosis.cause !== 'healthy').length, failed: r.failed }),
        (err: unknown) => deps.logger.error('fleet check failed', { channel: request.channel, error: errorText(err) }),
      )
      .finally(() => admitted?.finish()),
  );
}
