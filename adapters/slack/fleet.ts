// `/sshcheck db-[1-40]` in Slack: the platform-neutral fleet flow (src/chat/fleet-flow.ts) with
// a Slack surface. The parent is a channel message (summary first: hosts by cause), each host
// that is not healthy a reply in its thread. Text from reports is clipped and made chat-safe
// like every other Slack message (limits.ts).
import type { RespondFn, webApi } from '@slack/bolt';
import { admitAndRunFleet } from '../../src/chat/admission.js';
import { SurfaceError } from '../../src/chat/check-flow.js';
import type { FleetSurface } from '../../src/chat/fleet-flow.js';
import type { FleetCommand } from '../../src/chat/fleet-grammar.js';
import type { FleetHostView, FleetParentView } from '../../src/chat/fleet-views.js';
import { fleetAckText } from '../../src/chat/fleet-views.js';
import { encodeFleetRerun } from '../../src/chat/rerun.js';
import { STATUS_EMOJI } from '../../src/chat/views.js';
import { duration } from '../../src/engine/checklist/format.js';
import { toSurfaceError } from './errors.js';
import { fitInline, fitMessageText } from './limits.js';
import type { ListenerDeps } from './listeners.js';
import type { SlackBlock, SlackMessage } from './render.js';
import { capBlocks, causeCode as code, context, rerunBlocks, section } from './render.js';
import { NO_UNFURL, channelKey } from './surface.js';
import { renderRefusal, slackActor } from './gate.js';

/** `rerun`: the Re-run button's value (src/chat/rerun.ts), shown once the fleet has ended. */
export function renderFleetParent(view: FleetParentView, rerun?: string): SlackMessage {
  const s = view.summary;
  const head = `*sshcheck* ${view.hosts} hosts (${fitInline(view.label, 300)}) from ${fitInline(view.vantage, 200)}, asked by ${view.requester.length <= 100 ? view.requester : fitInline(view.requester, 100)}`;
  const counts = s.byCause.map((c) => `${c.cause === 'healthy' ? STATUS_EMOJI.pass : STATUS_EMOJI.fail} *${c.hosts}* ${code(c.cause)}`);
  if (s.failed > 0) counts.push(`${STATUS_EMOJI.warn} *${s.failed}* not checked (engine failure)`);
  const blocks: SlackBlock[] = [section(head)];
  if (view.phase === 'finished') {
    blocks.push(section(`*${s.healthy} of ${view.hosts} healthy*, ${s.problems} with a problem${s.failed > 0 ? `, ${s.failed} not checked` : ''}, in ${duration(s.durationMs)}:\n${counts.slice(0, 40).join('\n')}`));
    if (s.problems > 0) blocks.push(context(`One reply per host that is not healthy follows in the thread${view.notShown > 0 ? ` (the last ${view.notShown} listed in one reply)` : ''}.`));
  } else {
    blocks.push(context(`${STATUS_EMOJI.running} Checking… ${view.checked}/${view.hosts} done${counts.length > 0 ? `: ${counts.slice(0, 10).join(', ')}` : ''}`));
  }
  blocks.push(...rerunBlocks(view, rerun), context(`Probed from ${fitInline(view.vantage, 200)}, not from the requester's machine: what works here can still fail there.`));
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

class SlackFleetSurface implements FleetSurface {
  readonly channelKey: string;
  private channel: string;
  private parentTs: string | undefined;

  constructor(
    private readonly client: webApi.WebClient,
    channel: string,
    private readonly respond: RespondFn | undefined,
    /** The Re-run button's value; none when no command text names exactly these hosts. */
    private readonly rerun: string | undefined,
  ) {
    this.channel = channel;
    this.channelKey = channelKey(channel);
  }

  async postParent(view: FleetParentView): Promise<void> {
    const res = await this.call('posting the first message', () => this.client.chat.postMessage({ channel: this.channel, ...renderFleetParent(view, this.rerun), ...NO_UNFURL }));
    if (typeof res.ts !== 'string') throw new SurfaceError('failed', 'chat.postMessage answered without a message ts');
    if (typeof res.channel === 'string' && res.channel !== '') this.channel = res.channel;
    this.parentTs = res.ts;
  }

  async updateParent(view: FleetParentView): Promise<void> {
    const ts = this.parentTs;
    if (ts === undefined) throw new SurfaceError('failed', 'the first message was never posted');
    await this.call('updating the first message', () => this.client.chat.update({ channel: this.channel, ts, ...renderFleetParent(view, this.rerun) }));
  }

  async postHost(host: FleetHostView): Promise<void> {
    await this.reply(`posting the reply for ${host.host}`, renderFleetHost(host));
  }

  async postRest(hosts: readonly FleetHostView[]): Promise<void> {
    await this.reply('posting the list of the other hosts', renderFleetRest(hosts));
  }

  private async reply(what: string, message: SlackMessage): Promise<void> {
    const thread = this.parentTs;
    if (thread === undefined) throw new SurfaceError('failed', `${what}: there is no thread to reply in`);
    await this.call(what, () => this.client.chat.postMessage({ channel: this.channel, thread_ts: thread, ...message, ...NO_UNFURL }));
  }

  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw toSurfaceError(err, what);
    }
  }

  async fallback(view: FleetParentView, reason: string): Promise<void> {
    // Where the bot cannot post (not in the channel), the summary still reaches the requester.
    if (!this.respond) return;
    const message = renderFleetParent(view);
    const respond = this.respond;
    await this.call('answering through the response_url', () => respond({ response_type: 'ephemeral', replace_original: false, text: `${STATUS_EMOJI.warn} ${fitInline(reason, 500)}\n${message.text}`, blocks: [section(`${STATUS_EMOJI.warn} I could not post in this channel: ${fitInline(reason, 500)}`), ...message.blocks] }));
  }
}

/**
 * Runs a fleet command from /sshcheck or its Re-run button (Slack was acknowledged already): the shared admission
 * flow (src/chat/admission.ts) with Slack's private answers and a Slack thread.
 */
export function startSlackFleet(
  deps: ListenerDeps,
  fleet: FleetCommand,
  request: { team?: string; channel: string; user: string; requester: string; answer: (message: SlackMessage) => Promise<void>; respond?: RespondFn },
): void {
  const origin = { channel: request.channel, user: request.user };
  deps.runner.track((engine) =>
    admitAndRunFleet({
      gate: deps.gate,
      actor: slackActor(request, deps.userGroups),
      fleet,
      engine,
      pacer: deps.pacer,
      logger: deps.logger,
      vantage: deps.vantage,
      requester: request.requester,
      origin,
      refuse: (message) => request.answer(renderRefusal(message)),
      accept: (notice) => {
        const text = fitInline(fleetAckText(fleet, deps.vantage, notice), 1500);
        return request.answer({ text, blocks: [section(text)] });
      },
      surface: () => new SlackFleetSurface(deps.client, request.channel, request.respond, encodeFleetRerun(fleet)),
    }).then(() => undefined),
  );
}
