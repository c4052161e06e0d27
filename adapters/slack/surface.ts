// One check's thread in Slack, as the platform-neutral check flow drives it: the parent is a
// channel message (or, for an @mention in a thread, a reply in that thread), each step a
// reply under it, edits are chat.update. Failures become SurfaceErrors; a conversation the
// bot cannot post in is answered through the slash command's response_url instead.
import { randomUUID } from 'node:crypto';
import type { RespondFn, webApi } from '@slack/bolt';
import type { ChatSurface } from '../../src/chat/check-flow.js';
import { SurfaceError } from '../../src/chat/check-flow.js';
import type { Pacer } from '../../src/chat/pacer.js';
import type { ParentView } from '../../src/chat/views.js';
import type { Report, StepId, StepReport } from '../../src/engine/report.js';
import type { Logger } from '../../src/log.js';
import { toSurfaceError } from './errors.js';
import { postOutcomeUnknown } from './requests.js';
import { renderFallback, renderParent, renderStep } from './render.js';
import { errorMessage } from '../../src/errors.js';

export interface SlackSurfaceOptions {
  client: webApi.WebClient;
  /** The conversation id the request came from. */
  channel: string;
  /** Set for an @mention inside a thread: everything goes into that thread. */
  threadTs?: string;
  /** The requester's user id (an ephemeral fallback for @mentions). */
  requesterId?: string;
  /** The slash command's response_url, which works even where the bot cannot post. */
  respond?: RespondFn;
  /** A direct message or group DM, where inviting the bot is not the fix. */
  directMessage?: boolean;
  /** The bot's user name, for the invite hint. */
  botName?: string;
  /** For showing a failed reply on the parent when no other update of it is due. */
  pacer?: Pacer;
  /** The Re-run button's value (src/chat/rerun.ts): the parent shows the button once the check ends. */
  rerun?: string;
  logger?: Logger;
}

/** The metadata type of a check's first message (its payload: the post's own id). */
export const PARENT_EVENT = 'sshcheck_check_parent';

/** Posts are never unfurled: a link in evidence must not turn into a preview. */
export const NO_UNFURL = { unfurl_links: false, unfurl_media: false } as const;

export function inviteHint(botName: string, directMessage: boolean): string {
  const name = /^[a-z0-9._-]{1,80}$/i.test(botName) ? botName : 'sshcheck';
  return directMessage
    ? `The bot cannot write in a direct message between people: run \`/sshcheck\` in a channel it is in (add it to one with \`/invite @${name}\`).`
    : `Invite the bot to this channel with \`/invite @${name}\` (or the channel's *Integrations* settings), then run the check again for the live thread.`;
}

/** Messages to one conversation share a pace, whichever check or answer they belong to. */
export function channelKey(channel: string): string {
  return `slack:${channel}`;
}

export class SlackSurface implements ChatSurface {
  readonly channelKey: string;
  private channel: string;
  private parentTs: string | undefined;
  private readonly stepTs = new Map<StepId, string>();
  /** What went wrong with single replies, shown on the parent so that nothing fails unseen. */
  private readonly notes: string[] = [];
  /** The newest parent state, for re-rendering it with notes. */
  private lastView: ParentView | undefined;
  private readonly pending = new Set<Promise<void>>();
  /** Slack refused this conversation (not_in_channel and the like): the fallback says how to fix it. */
  private refused = false;

  constructor(private readonly options: SlackSurfaceOptions) {
    this.channel = options.channel;
    this.channelKey = channelKey(options.channel);
  }

  async postParent(view: ParentView): Promise<void> {
    const thread = this.options.threadTs;
    // A mark nobody sees (message metadata), by which a parent whose answer was lost is found
    // again: the client never posts it twice (requests.ts), so it is there once or not at all.
    const post = randomUUID();
    const res = await this.call('posting the first message', async () => {
      try {
        return await this.options.client.chat.postMessage({
          channel: this.channel,
          ...renderParent(view, [], this.options.rerun),
          ...NO_UNFURL,
          ...(thread !== undefined ? { thread_ts: thread } : {}),
          metadata: { event_type: PARENT_EVENT, event_payload: { post } },
        });
      } catch (err) {
        const ts = postOutcomeUnknown(err) ? await this.findPost(post, thread) : undefined;
        if (ts === undefined) throw err;
        this.options.logger?.warn('the answer to the first message was lost; it was found in the conversation and the thread goes on', { channel: this.channel, error: errorMessage(err) });
        return { ok: true, ts, channel: this.channel };
      }
    });
    if (typeof res.ts !== 'string') throw new SurfaceError('failed', 'chat.postMessage answered without a message ts');
    // Updates need the conversation id Slack posted to.
    if (typeof res.channel === 'string' && res.channel !== '') this.channel = res.channel;
    this.parentTs = res.ts;
    this.lastView = view;
  }

  async updateParent(view: ParentView): Promise<void> {
    const ts = this.parentTs;
    if (ts === undefined) throw new SurfaceError('failed', 'the first message was never posted');
    this.lastView = view;
    await this.call('updating the first message', () => this.options.client.chat.update({ channel: this.channel, ts, ...renderParent(view, this.notes, this.options.rerun) }));
  }

  async postStep(step: StepReport): Promise<void> {
    const thread = this.options.threadTs ?? this.parentTs;
    if (thread === undefined) throw new SurfaceError('failed', `step ${step.n}: there is no thread to reply in`);
    try {
      const res = await this.call(`posting step ${step.n}`, () => this.options.client.chat.postMessage({ channel: this.channel, thread_ts: thread, ...renderStep(step), ...NO_UNFURL }));
      if (typeof res.ts === 'string') this.stepTs.set(step.id, res.ts);
    } catch (err) {
      this.note(err, `step ${step.n} (${step.title}) could not be posted`);
      throw err;
    }
  }

  async updateStep(step: StepReport): Promise<void> {
    const ts = this.stepTs.get(step.id);
    if (ts === undefined) throw new SurfaceError('failed', `step ${step.n} was never posted, so it cannot be updated`);
    try {
      await this.call(`updating step ${step.n}`, () => this.options.client.chat.update({ channel: this.channel, ts, ...renderStep(step) }));
    } catch (err) {
      this.note(err, `the final state of step ${step.n} (${step.title}) could not be shown`);
      throw err;
    }
  }

  async fallback(view: ParentView, reason: string, report?: Report): Promise<void> {
    const hint = this.refused ? inviteHint(this.options.botName ?? 'sshcheck', this.options.directMessage ?? false) : undefined;
    const message = renderFallback(view, reason, hint, report);
    const { respond, requesterId } = this.options;
    if (respond) {
      await this.call('answering through the response_url', () => respond({ response_type: 'ephemeral', replace_original: false, ...message, ...NO_UNFURL }));
      return;
    }
    if (requesterId !== undefined) {
      // An @mention has no response_url: a message only the requester sees, where they asked.
      const thread = this.options.threadTs;
      await this.call('posting an ephemeral answer', () =>
        this.options.client.chat.postEphemeral({ channel: this.options.channel, user: requesterId, ...message, ...(thread !== undefined ? { thread_ts: thread } : {}) }),
      );
      return;
    }
    throw new SurfaceError('failed', `no way left to reach the requester (${reason})`);
  }

  private note(err: unknown, what: string): void {
    // A conversation that refuses posts is handled by the fallback; a note could not be shown.
    if (err instanceof SurfaceError && err.kind === 'cannot-post') return;
    const code = err instanceof SurfaceError && err.code !== undefined ? ` (${err.code})` : '';
    if (this.notes.length < 10) this.notes.push(`${what}${code}; the bot's log has the details.`);
    this.showNotes();
  }

  /**
   * The final parent update is usually sent before the last replies (it has priority), so a
   * reply that fails later would go unseen: the parent is rendered again, with the newest state,
   * in the channel's pace. Queued refreshes of one parent coalesce.
   */
  private showNotes(): void {
    const { pacer, logger } = this.options;
    const ts = this.parentTs;
    if (!pacer || ts === undefined) return;
    const refresh = (): Promise<void> => (this.lastView ? this.updateParent(this.lastView) : Promise.resolve());
    const shown = pacer.schedule(this.channelKey, refresh, { key: `notes:${this.channelKey}:${ts}`, priority: 0 }).catch((err: unknown) => {
      logger?.warn('showing a failed reply on the parent failed', { channel: this.channel, error: errorMessage(err) });
    });
    this.pending.add(shown);
    void shown.finally(() => this.pending.delete(shown));
  }

  /** Resolves once nothing this surface started on its own is still on its way. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /**
   * The ts of this bot's message marked `post`, among the conversation's newest (or the
   * thread's): undefined when it is not there, or the bot may not read the conversation
   * (channels:history and groups:history only; not direct messages).
   */
  private async findPost(post: string, thread: string | undefined): Promise<string | undefined> {
    const { client, logger } = this.options;
    try {
      const page =
        thread === undefined
          ? await client.conversations.history({ channel: this.channel, limit: 100, include_all_metadata: true })
          : await client.conversations.replies({ channel: this.channel, ts: thread, limit: 1000, include_all_metadata: true });
      return page.messages?.find((m) => (m.metadata?.event_payload as Readonly<Record<string, unknown>> | undefined)?.['post'] === post)?.ts;
    } catch (err) {
      logger?.warn('looking for a first message whose answer was lost failed', { channel: this.channel, error: errorMessage(err) });
      return undefined;
    }
  }

  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      const mapped = toSurfaceError(err, what);
      if (mapped.kind === 'cannot-post') this.refused = true;
      throw mapped;
    }
  }
}

