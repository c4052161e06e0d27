// One /sshcheck invocation as a ChatSurface: the interaction's reply is the parent, a thread
// started from it gets one message per step, and the parent is edited with the diagnosis
// and, at the end, the ten statuses.
//
// Without a thread (DMs, a channel type without threads, a missing permission, or Discord
// refusing to create it) the surface does not give up: the parent still shows the
// diagnosis as soon as it is settled and says why there is no thread, and the complete
// checklist follows the final parent as follow-up messages, from the report check-flow
// hands over when the run finishes.
import { ThreadAutoArchiveDuration } from 'discord.js';
import type { Message, PublicThreadChannel, RepliableInteraction } from 'discord.js';
import type { Logger } from '../../src/log.js';
import type { ChatSurface } from '../../src/chat/check-flow.js';
import { SurfaceError } from '../../src/chat/check-flow.js';
import { clip } from '../../src/chat/safe-text.js';
import type { ParentView } from '../../src/chat/views.js';
import type { Report, StepId, StepReport } from '../../src/engine/report.js';
import { describeError, errorFields, isChannelRefusal } from './errors.js';
import { packMessages, renderChecklist, renderParent, renderStep } from './render.js';
import type { ParentOptions } from './render.js';
import { noMentions } from './responder.js';
import type { InteractionResponder, ReplyBody } from './responder.js';

/** Discord's limit on thread names. */
const THREAD_NAME_MAX = 100;

export interface SurfaceOptions {
  interaction: RepliableInteraction;
  /** The interaction's answers, already acknowledged (deferred) by the caller. */
  responder: InteractionResponder;
  logger: Logger;
  /** The thread's name (the target, as the person wrote it after validation). */
  threadName: string;
  /** Why no thread can be used, when that is known before anything is posted. */
  noThread?: string;
  /** Buttons under the parent (Re-run), shown once the check is over. */
  components?: (view: ParentView) => ReplyBody['components'];
}

/**
 * Discord limits messages per channel, and a thread is a channel of its own; the
 * interaction's own messages (the parent, its edits, follow-ups) go through its webhook,
 * which has its own limit. Checks and fleets use the same keys.
 */
export function paceKeys(interactionId: string): { channelKey: string; replyChannelKey: string } {
  return { channelKey: `discord:${interactionId}`, replyChannelKey: `discord:${interactionId}:thread` };
}

export class DiscordSurface implements ChatSurface {
  readonly channelKey: string;
  readonly replyChannelKey: string;
  private readonly responder: InteractionResponder;
  private readonly log: Logger;
  private readonly fields: Record<string, unknown>;
  private thread: PublicThreadChannel | undefined;
  private noThread: string | undefined;
  private readonly stepMessages = new Map<StepId, Message>();
  private report: Report | undefined;
  private checklistSent = false;

  constructor(private readonly options: SurfaceOptions) {
    const { interaction } = options;
    ({ channelKey: this.channelKey, replyChannelKey: this.replyChannelKey } = paceKeys(interaction.id));
    this.noThread = options.noThread;
    this.log = options.logger;
    this.fields = { interaction: interaction.id, guild: interaction.guildId, channel: interaction.channelId };
    this.responder = options.responder;
  }

  receiveReport(report: Report): void {
    this.report = report;
  }

  get expired(): boolean {
    return this.responder.expired;
  }

  private parentBody(view: ParentView): ReplyBody {
    const components = this.options.components?.(view);
    return { embeds: [renderParent(view, this.note(view))], ...(components !== undefined ? { components } : {}) };
  }

  async postParent(view: ParentView): Promise<void> {
    const message = await this.responder.show(this.parentBody(view));
    if (message === undefined || this.noThread !== undefined) return;
    try {
      this.thread = await message.startThread({ name: clip(this.options.threadName, THREAD_NAME_MAX), autoArchiveDuration: ThreadAutoArchiveDuration.OneDay });
      this.log.debug('discord thread started', { ...this.fields, thread: this.thread.id });
    } catch (err) {
      this.noThread = `Discord did not let the bot start a thread here: ${describeError(err, this.secrets())}`;
      this.log.warn('discord thread creation failed; the checklist will follow the parent instead', { ...this.fields, ...errorFields(err, this.secrets()) });
      // Say why at once, not only at the end.
      await this.responder.show(this.parentBody(view));
    }
  }

  async updateParent(view: ParentView): Promise<void> {
    if (this.responder.expired) return;
    await this.responder.show(this.parentBody(view));
    if (this.noThread !== undefined && (view.phase === 'finished' || view.phase === 'failed')) await this.sendChecklist();
  }

  async postStep(step: StepReport): Promise<void> {
    // Without a thread the whole checklist follows the final parent in one go. An expired
    // interaction token only ends edits of the parent: the thread is the bot's own.
    if (this.thread === undefined) return;
    try {
      const message = await this.thread.send({ embeds: [renderStep(step)], allowedMentions: noMentions() });
      this.stepMessages.set(step.id, message);
    } catch (err) {
      throw this.threadError(err, `step ${step.n}`);
    }
  }

  async updateStep(step: StepReport): Promise<void> {
    const message = this.stepMessages.get(step.id);
    if (message === undefined) return;
    try {
      await message.edit({ embeds: [renderStep(step)], allowedMentions: noMentions() });
    } catch (err) {
      throw this.threadError(err, `step ${step.n} update`);
    }
  }

  async fallback(view: ParentView, reason: string, report?: Report): Promise<void> {
    this.report ??= report;
    if (this.thread !== undefined) this.noThread = `the thread stopped accepting messages (${reason})`;
    // A failed check says so in the parent itself; there is no checklist to point to.
    else if (view.phase !== 'failed') this.noThread ??= reason;
    if (this.responder.expired) {
      this.log.warn('discord check could not be shown: the interaction token is no longer valid', { ...this.fields, reason });
      return;
    }
    await this.responder.show(this.parentBody(view));
    await this.sendChecklist();
  }

  private async sendChecklist(): Promise<void> {
    if (this.checklistSent || this.report === undefined) return;
    this.checklistSent = true;
    for (const embeds of packMessages(renderChecklist(this.report.steps))) await this.responder.followUp({ embeds });
  }

  private note(view: ParentView): ParentOptions {
    if (this.noThread === undefined) return {};
    const reason = `${this.noThread.charAt(0).toUpperCase()}${this.noThread.slice(1)}`;
    if (view.phase === 'failed') return { note: `${reason}.` };
    const where = view.phase === 'finished' ? 'the checklist is in the messages below' : 'the checklist follows below when the run finishes';
    return { note: `${reason}; ${where}.` };
  }

  /** A thread that refuses the bot is unusable (check-flow falls back); other failures are one lost message. */
  private threadError(err: unknown, what: string): SurfaceError {
    const text = describeError(err, this.secrets());
    if (isChannelRefusal(err)) return new SurfaceError('cannot-post', `Discord refused ${what} in the thread: ${text}`, 'channel-refused');
    return new SurfaceError('failed', `${what}: ${text}`);
  }

  private secrets(): string[] {
    return [this.options.interaction.token];
  }
}
