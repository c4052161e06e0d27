// The interaction's own messages: the reply (the parent), its edits and follow-ups. Discord
// wants an answer within 3 s, so a timer defers the reply if the parent is not ready by
// then; every operation goes through one queue, because the reply/defer/edit choice
// depends on what was sent before. Once the token is gone (15 minutes passed, or another
// process answered), nothing more is tried: Discord would only answer 404 again.
import type { APIEmbed, ChatInputCommandInteraction, Message, MessageMentionOptions } from 'discord.js';
import { MessageFlags } from 'discord.js';
import { isTokenGone } from './errors.js';

/** Nobody is ever pinged, whatever the text says. Also the client's default. */
export function noMentions(): MessageMentionOptions {
  return { parse: [] };
}

export class InteractionResponder {
  private chain: Promise<unknown> = Promise.resolve();
  private state: 'fresh' | 'deferred' | 'replied' = 'fresh';
  private gone = false;

  constructor(
    private readonly interaction: ChatInputCommandInteraction,
    /** Called once, with the error, when the token stops working. */
    private readonly onGone: (err: unknown) => void,
  ) {}

  get expired(): boolean {
    return this.gone;
  }

  get answered(): boolean {
    return this.state !== 'fresh';
  }

  /** The safety net: a "thinking…" answer, when nothing has been answered yet. */
  deferIfSilent(): Promise<void> {
    return this.queue(async () => {
      if (this.state !== 'fresh') return;
      await this.interaction.deferReply({ withResponse: false });
      this.state = 'deferred';
    }).then(() => undefined);
  }

  /** Shows the parent: the reply the first time, an edit of it afterwards. */
  show(embeds: APIEmbed[]): Promise<Message | undefined> {
    return this.queue(async () => {
      if (this.state === 'fresh') {
        const response = await this.interaction.reply({ embeds, allowedMentions: noMentions(), withResponse: true });
        this.state = 'replied';
        return response.resource?.message ?? (await this.interaction.fetchReply());
      }
      const message = await this.interaction.editReply({ embeds, allowedMentions: noMentions() });
      this.state = 'replied';
      return message;
    });
  }

  /** A message only the requester sees (the queue position), after the reply or its deferral. */
  followUpPrivately(content: string): Promise<Message | undefined> {
    return this.queue(() => this.interaction.followUp({ content, flags: MessageFlags.Ephemeral, allowedMentions: noMentions() }));
  }

  /** A further message under the reply (the checklist when there is no thread). */
  followUp(embeds: APIEmbed[]): Promise<Message | undefined> {
    return this.queue(() => this.interaction.followUp({ embeds, allowedMentions: noMentions() }));
  }

  private queue<T>(op: () => Promise<T>): Promise<T | undefined> {
    const run = async (): Promise<T | undefined> => {
      if (this.gone) return undefined;
      try {
        return await op();
      } catch (err) {
        if (!isTokenGone(err)) throw err;
        this.gone = true;
        this.onGone(err);
        return undefined;
      }
    };
    const result = this.chain.then(run);
    this.chain = result.catch(() => undefined);
    return result;
  }
}
