// Watches on Slack (issue 16): `/sshcheck watch db-3 [every 30s] [for 2h]`, `/sshcheck unwatch
// db-3`, and the Stop button on a watch's parent message. The grammar, the schedule and the
// wording are src/chat (watch-grammar.ts, watch.ts, watch-runner.ts); this file acknowledges,
// answers the requester privately, and posts: the parent a channel message (chat.update keeps
// working on it for hours, after a restart too: channel and ts are in the store), the changes
// replies under it, each through the channel's pace.
import type { App, BlockButtonAction, webApi } from '@slack/bolt';
import type { WatchPlace, WatchPoster } from '../../src/chat/watch-runner.js';
import type { WatchRunner } from '../../src/chat/watch-runner.js';
import type { WatchView } from '../../src/chat/watch.js';
import { utcClock, watchLines } from '../../src/chat/watch.js';
import type { WatchCommand } from '../../src/chat/watch-grammar.js';
import { parseWatchCommand } from '../../src/chat/watch-grammar.js';
import type { Pacer } from '../../src/chat/pacer.js';
import { isSshcheckError } from '../../src/errors.js';
import { clip } from '../../src/chat/safe-text.js';
import { spanText } from '../../src/chat/watch.js';
import type { SlackUserGroups } from './gate.js';
import { renderRefusal, slackActor } from './gate.js';
import { fitInline, fitMessageText } from './limits.js';
import type { SlackBlock, SlackMessage } from './render.js';
import { context, renderUsageError, section } from './render.js';
import { channelKey, NO_UNFURL } from './surface.js';
import { toSurfaceError } from './errors.js';
import type { ListenerDeps } from './listeners.js';
import { envelopeIdOf } from './deliveries.js';
import { deliveryIds, isRepeat } from './deliveries.js';
import { privately } from './private-reply.js';
import { requesterMention } from './requester.js';

/** The Stop button's action_id; its value is the watch's id. */
export const WATCH_STOP_ACTION = 'sshcheck_watch_stop';

/** The parent of a watch: what, from where, for whom; the state and since when; the schedule; Stop. Pure. */
export function renderWatchParent(view: WatchView, now = Date.now()): SlackMessage {
  const lines = watchLines(view, now, utcClock);
  const head = `*sshcheck watch* ${fitInline(view.target, 400)} from ${fitInline(view.bastion, 200)}, asked by ${view.requester.length <= 100 ? view.requester : fitInline(view.requester, 100)}`;
  // The state, schedule and stop lines are sshcheck's own words (cause codes, clock times, the
  // requester's mention the adapter built): clipped, not escaped. The note may quote a report.
  const blocks: SlackBlock[] = [section(head), section(clip(lines.state, 1000)), context(clip(lines.schedule, 1000))];
  if (lines.note !== undefined) blocks.push(context(fitInline(lines.note, 1000)));
  if (view.stopped !== undefined) blocks.push(section(clip(view.stopped, 2000)));
  else blocks.push({ type: 'actions', elements: [{ type: 'button', action_id: WATCH_STOP_ACTION, text: { type: 'plain_text', text: 'Stop' }, value: view.id }] });
  return { text: fitMessageText([`sshcheck watch ${fitInline(view.target, 400)}: ${lines.state}`]), blocks };
}

export class SlackWatchPoster implements WatchPoster {
  constructor(
    private readonly client: webApi.WebClient,
    private readonly pacer: Pacer,
    private readonly userGroups: SlackUserGroups | undefined,
  ) {}

  async postParent(place: Pick<WatchPlace, 'channel'>, view: WatchView): Promise<{ parentRef: string }> {
    let ts: string | undefined;
    await this.pacer.schedule(channelKey(place.channel), async () => {
      const res = await this.call('posting the watch', () => this.client.chat.postMessage({ channel: place.channel, ...renderWatchParent(view), ...NO_UNFURL }));
      ts = typeof res.ts === 'string' ? res.ts : undefined;
    }, { priority: 0 });
    if (ts === undefined) throw new Error('chat.postMessage answered without a message ts');
    return { parentRef: ts };
  }

  updateParent(place: WatchPlace, view: WatchView): Promise<void> {
    const ts = place.parentRef;
    if (ts === null) return Promise.resolve();
    // Queued updates of one parent coalesce: only the newest state is sent.
    return this.pacer.schedule(channelKey(place.channel), async () => {
      await this.call('updating the watch', () => this.client.chat.update({ channel: place.channel, ts, ...renderWatchParent(view) }));
    }, { key: `watch:${place.channel}:${ts}`, priority: 0 });
  }

  postInThread(place: WatchPlace, text: string): Promise<void> {
    const ts = place.parentRef;
    if (ts === null) return Promise.resolve();
    // sshcheck's own words (watch.ts: cause codes, times, the requester's mention): clipped only.
    const line = clip(text, 2000);
    return this.pacer.schedule(channelKey(place.channel), async () => {
      await this.call('posting a watch change', () => this.client.chat.postMessage({ channel: place.channel, thread_ts: ts, text: line, blocks: [section(line)], ...NO_UNFURL }));
    }, { priority: 1 });
  }

  actor(who: { workspace: string | null; channel: string; user: string }): ReturnType<typeof slackActor> {
    return slackActor({ ...(who.workspace !== null ? { team: who.workspace } : {}), channel: who.channel, user: who.user }, this.userGroups);
  }

  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw toSurfaceError(err, what);
    }
  }
}

/** The slash command's text as a watch command, a usage error, or undefined (not a watch command). Pure. */
export function parseSlackWatch(text: string, bastions: readonly string[], runner: WatchRunner | undefined): WatchCommand | { kind: 'error'; message: string } | undefined {
  try {
    return parseWatchCommand(text, { bastions, ...(runner ? { limits: runner.watchLimits } : {}) });
  } catch (err) {
    if (isSshcheckError(err)) return { kind: 'error', message: err.message };
    throw err;
  }
}

export interface SlackWatchAsker {
  team?: string | undefined;
  channel: string;
  user: string;
  requester: string;
  answer: (message: SlackMessage) => Promise<void>;
}

/** After the ack: starts or stops a watch through the runner, and tells the requester privately. */
export async function runSlackWatch(deps: ListenerDeps, command: WatchCommand, asker: SlackWatchAsker): Promise<void> {
  const runner = deps.watches;
  if (!runner) return asker.answer(renderRefusal('This bot runs no watches (it has no store for them). Nothing is watched.'));
  if (command.kind === 'unwatch') {
    const stopped = await runner.unwatch('slack', asker.channel, command.host, command.port, asker.requester);
    const where = fitInline(`${command.host}:${command.port}`, 300);
    if (stopped === 0) return asker.answer(renderRefusal(`No watch of ${where} runs in this channel.`));
    const text = `Stopped ${stopped === 1 ? 'the watch' : `${stopped} watches`} of ${where} in this channel: its thread says so.`;
    return asker.answer({ text, blocks: [section(text)] });
  }
  const started = await runner.start({ platform: 'slack', workspace: asker.team ?? null, channel: asker.channel, user: asker.user, requester: asker.requester, command });
  if (started.kind === 'refused') return asker.answer(renderRefusal(started.message));
  deps.logger.info('watch requested', { channel: asker.channel, user: asker.user, id: started.id });
  const text = `Watching ${fitInline(`${command.target.user}@${command.target.host}:${command.target.port}`, 400)} every ${spanText(command.everyMs)} for ${spanText(command.forMs)}: its message in this channel shows the state, its thread each change.`;
  return asker.answer({ text, blocks: [section(text)] });
}

/** The slash command's watch part: acknowledged at once (usage errors are the ack), then run. True when it was a watch command. */
export async function handleSlackWatchCommand(
  deps: ListenerDeps,
  command: { text: string; channel_id: string; user_id: string; user_name: string; team_id: string; trigger_id: string },
  ack: (answer?: { response_type: 'ephemeral'; text: string; blocks: SlackBlock[] }) => Promise<void>,
  answer: (message: SlackMessage) => Promise<void>,
  repeated: () => boolean,
): Promise<boolean> {
  const parsed = parseSlackWatch(command.text, deps.bastions(), deps.watches);
  if (parsed === undefined) return false;
  if (parsed.kind === 'error') {
    await ack({ response_type: 'ephemeral', ...renderUsageError(parsed.message) });
    return true;
  }
  await ack();
  // A redelivered command must not start a second watch (or answer twice).
  if (repeated()) return true;
  await runSlackWatch(deps, parsed, { team: command.team_id, channel: command.channel_id, user: command.user_id, requester: requesterMention(command.user_id, command.user_name), answer });
  return true;
}

/** The Stop button: acked first; stops the watch its value names when it runs in this channel. */
export function registerWatchStop(app: App, deps: ListenerDeps): void {
  app.action<BlockButtonAction>({ type: 'block_actions', action_id: WATCH_STOP_ACTION }, async ({ ack, body, action, respond, context: ctx }) => {
    await ack();
    const channel = body.channel?.id;
    const origin = { via: 'watch stop button', channel: channel ?? '', user: body.user.id };
    if (isRepeat(deps.recent, deliveryIds({ trigger: body.trigger_id, envelope: envelopeIdOf(ctx) }))) return;
    const answer = privately(respond, deps.logger, origin);
    const id = typeof action.value === 'string' && /^[0-9a-f-]{36}$/.test(action.value) ? action.value : undefined;
    const stopped = id !== undefined && channel !== undefined && deps.watches !== undefined && (await deps.watches.stopById('slack', channel, id, requesterMention(body.user.id, body.user.name ?? body.user.username)));
    if (!stopped) {
      deps.logger.info('watch stop refused: no such watch runs here', origin);
      await answer(renderRefusal('This watch is not running any more (or this button is not one sshcheck made): nothing was stopped.'));
    }
  });
}
