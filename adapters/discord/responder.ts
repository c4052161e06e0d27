// The interaction's own messages: the acknowledgement, the reply (the parent), its edits and
// follow-ups. Discord wants an answer within 3 s, so anything that may take longer (the gate,
// DNS, the store, the engine) comes after defer(); what the requester alone should see after
// a public deferral replaces it (the deferral is deleted, an ephemeral follow-up says it).
// Every operation goes through one queue, because the reply/defer/edit choice depends on what
// was sent before. Once the token is gone (15 minutes passed, or another process answered),
// nothing more is tried: Discord would only answer 404 again.
import type { APIActionRowComponent, APIComponentInMessageActionRow, APIEmbed, Message, MessageMentionOptions, RepliableInteraction } from 'discord.js';
import { MessageFlags } from 'discord.js';
import { isTokenGone } from './errors.js';

/** Nobody is ever pinged, whatever the text says. Also the client's default. */
export function noMentions(): MessageMentionOptions {
  return { parse: [] };
}

/** What the parent message holds: embeds (a check) or text (a fleet), and maybe buttons. */
export interface ReplyBody {
  embeds?: APIEmbed[];
  content?: string;
  components?: Array<APIActionRowComponent<APIComponentInMessageActionRow>>;
}

export class InteractionResponder {
  private chain: Promise<unknown> = Promise.resolve();
  private state: 'fresh' | 'deferred' | 'replied' = 'fresh';
  private gone = false;

  constructor(
    private readonly interaction: RepliableInteraction,
    /** Called once, with the error, when the token stops working. */
    private readonly onGone: (err: unknown) => void,
  ) {}

  get expired(): boolean {
    return this.gone;
  }

  get answered(): boolean {
    return this.state !== 'fresh';
  }

  /** The acknowledgement: a public "thinking…" that the parent replaces. */
  defer(): Promise<void> {
    return this.queue(async () => {
      if (this.state !== 'fresh') return;
      await this.interaction.deferReply({ withResponse: false });
      this.state = 'deferred';
    }).then(() => undefined);
  }

  /**
   * An answer only the requester sees (help, a usage error, a refusal, the history): the
   * reply itself when nothing was sent yet, else the public deferral makes way for it.
   */
  answerPrivately(content: string): Promise<void> {
    return this.queue(async () => {
      if (this.state === 'fresh') {
        await this.interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: noMentions() });
        this.state = 'replied';
        return;
      }
      await this.interaction.deleteReply();
      await this.interaction.followUp({ content, flags: MessageFlags.Ephemeral, allowedMentions: noMentions() });
    }).then(() => undefined);
  }

  /** Shows the parent: the reply the first time, an edit of it (or of the deferral) afterwards. */
  show(body: ReplyBody): Promise<Message | undefined> {
    return this.queue(async () => {
      if (this.state === 'fresh') {
        const response = await this.interaction.reply({ ...body, allowedMentions: noMentions(), withResponse: true });
        this.state = 'replied';
        return response.resource?.message ?? (await this.interaction.fetchReply());
      }
      const message = await this.interaction.editReply({ ...body, allowedMentions: noMentions() });
      this.state = 'replied';
      return message;
    });
  }

  /** A message only the requester sees (the queue position), after the reply or its deferral. */
  followUpPrivately(content: string): Promise<Message | undefined> {
    return this.queue(() => this.interaction.followUp({ content, flags: MessageFlags.Ephemeral, allowedMentions: noMentions() }));
  }

  /** A further message under the reply (the checklist when there is no thread). */
  followUp(body: ReplyBody): Promise<Message | undefined> {
    return this.queue(() => this.interaction.followUp({ ...body, allowedMentions: noMentions() }));
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
