// Discord embeds for a check: the parent message, one message per checklist step, and the
// complete checklist when no thread can be used. Pure: views and reports in, embed JSON out.
//
// Two rules hold for every string produced here:
//  * Text from the report (which can carry what a server chose to send) goes through
//    safeInline/codeBlock, so it can neither format, mention nor link.
//  * Discord's limits are met by clipping the *plain* text before it is marked up: cutting
//    marked-up text could leave a code span open, and the rest of the message would then
//    be live markup again.
import type { APIActionRowComponent, APIComponentInMessageActionRow, APIEmbed, APIEmbedField } from 'discord.js';
import { ButtonStyle, ComponentType } from 'discord.js';
import { duration } from '../../src/engine/checklist/format.js';
import type { Diagnosis, Evidence, ManualCheck, ProbeId, StepReport, StepStatus } from '../../src/engine/report.js';
import { clip, codeBlock, safeText } from '../../src/chat/safe-text.js';
import type { ParentView } from '../../src/chat/views.js';
import { STATUS_EMOJI, statusLine } from '../../src/chat/views.js';

/** https://discord.com/developers/docs/resources/message#embed-object-embed-limits */
export const EMBED_LIMITS = {
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  /** Across all embeds of one message. */
  total: 6000,
  embedsPerMessage: 10,
  /** A message's plain content. */
  content: 2000,
} as const;

/** How much of each part a step message may use, so that the 6000 total always holds. */
const STEP_BUDGET = { summary: 1500, detail: 400, manual: 4, manualValue: 600, lineChars: 160 } as const;

const COLOR = { running: 0x5865f2, healthy: 0x57f287, problem: 0xed4245, failed: 0x99aab5 } as const;
const STEP_COLOR: Readonly<Record<StepStatus, number>> = { pass: 0x57f287, warn: 0xfee75c, fail: 0xed4245, skip: 0x99aab5 };

/** Partial: a probe added to the engine shows under its id until it gets a label here. */
const PROBE_LABEL: Readonly<Partial<Record<ProbeId, string>>> = {
  resolver: 'getaddrinfo',
  dns: 'DNS',
  icmp: 'ping',
  tcp: 'TCP',
  'ssh-handshake': 'SSH handshake',
  'openssh-verbose': 'ssh -vvv',
  path: 'path (traceroute -T)',
  mtu: 'path MTU',
  'ssh-config': 'ssh -G',
  inside: 'inside view',
  engine: 'sshcheck',
};

/**
 * Report text as safe inline markup of at most `max` characters. The plain text is clipped
 * first and clipped further while the markup (backticks around risky words) does not fit.
 */
export function inlineWithin(text: string, max: number): string {
  let budget = max;
  for (;;) {
    const out = safeText(clip(text, budget), 'discord');
    if (out.length <= max || budget <= 1) return out.length <= max ? out : '…';
    budget = Math.max(1, budget - Math.max(1, out.length - max));
  }
}

/**
 * Verbatim lines as a code block of at most `max` characters. Lines are clipped one by one;
 * when they do not all fit, the first line and as many of the last as fit are kept (the end
 * of the ssh -vvv phase list is where the connection stopped).
 */
export function codeBlockWithin(lines: readonly string[], max: number): string {
  const clipped = lines.map((l) => clip(l, STEP_BUDGET.lineChars));
  const whole = codeBlock(clipped, 'discord');
  if (whole.length <= max) return whole;
  const [first, ...rest] = clipped;
  const tail: string[] = [];
  for (let i = rest.length - 1; i >= 0; i--) {
    const candidate = [first ?? '', `… ${i} more lines …`, rest[i] ?? '', ...tail];
    if (codeBlock(candidate, 'discord').length > max) break;
    tail.unshift(rest[i] ?? '');
  }
  const omitted = rest.length - tail.length;
  const kept = [first ?? '', `… ${omitted} more lines …`, ...tail];
  const block = codeBlock(kept, 'discord');
  return block.length <= max ? block : codeBlock([`… ${lines.length} lines …`], 'discord');
}

/** Characters Discord counts against the 6000 limit. */
export function embedLength(embed: APIEmbed): number {
  let n = (embed.title ?? '').length + (embed.description ?? '').length + (embed.footer?.text ?? '').length + (embed.author?.name ?? '').length;
  for (const f of embed.fields ?? []) n += f.name.length + f.value.length;
  return n;
}

export function messageLength(embeds: readonly APIEmbed[]): number {
  return embeds.reduce((n, e) => n + embedLength(e), 0);
}

/** Splits embeds into messages of at most ten embeds and 6000 characters, keeping order. */
export function packMessages(embeds: readonly APIEmbed[]): APIEmbed[][] {
  const messages: APIEmbed[][] = [];
  let current: APIEmbed[] = [];
  let size = 0;
  for (const embed of embeds) {
    const n = embedLength(embed);
    if (current.length > 0 && (current.length >= EMBED_LIMITS.embedsPerMessage || size + n > EMBED_LIMITS.total)) {
      messages.push(current);
      current = [];
      size = 0;
    }
    current.push(embed);
    size += n;
  }
  if (current.length > 0) messages.push(current);
  return messages;
}

function field(name: string, value: string, inline = false): APIEmbedField {
  // Discord rejects empty names and values.
  return { name: clip(name, EMBED_LIMITS.fieldName) || '\u200b', value: value || '—', ...(inline ? { inline } : {}) };
}

function bullets(items: readonly string[], max: number): string {
  const out: string[] = [];
  let used = 0;
  for (const [i, item] of items.entries()) {
    const left = items.length - i;
    const line = `• ${inlineWithin(item, Math.min(400, max - used - 20))}`;
    if (used + line.length + 1 > max - (left > 1 ? 20 : 0)) {
      out.push(`… and ${left} more`);
      break;
    }
    out.push(line);
    used += line.length + 1;
  }
  return out.join('\n');
}

function causeLine(d: Diagnosis): string {
  const emoji = d.cause === 'healthy' ? STATUS_EMOJI.pass : STATUS_EMOJI.fail;
  const word = (text: string): string => inlineWithin(text, 60);
  const where = d.step ? `${word(d.step)}, ` : '';
  return `${emoji} ${word(d.cause)} (${where}${word(d.confidence)} confidence)`;
}

/** The requester is a mention we built (`<@id>`); anything else is treated as text. */
function requesterText(requester: string): string {
  return /^<@[0-9]{15,25}>$/.test(requester) ? requester : inlineWithin(requester, 200);
}

function phaseText(view: ParentView): string {
  const why = view.reusedReason !== undefined ? `: ${inlineWithin(view.reusedReason, 600)}` : '';
  const reused = view.reusedAgeMs !== undefined ? ` (a result from ${duration(view.reusedAgeMs)} ago, reused${why})` : '';
  switch (view.phase) {
    case 'running':
      return `probing${reused}`;
    case 'diagnosed':
      return `diagnosed in ${duration(view.elapsedMs)}; the remaining probes are still running${reused}`;
    case 'finished':
      return `finished in ${duration(view.elapsedMs)}${reused}`;
    case 'failed':
      return 'the check failed';
  }
}

export interface ParentOptions {
  /** Shown when the steps cannot go into a thread: why, and where they go instead. */
  note?: string;
}

export function renderParent(view: ParentView, options: ParentOptions = {}): APIEmbed {
  const fields: APIEmbedField[] = [
    field('Target', inlineWithin(view.target, 300), true),
    field('Bastion', inlineWithin(view.vantage, 300), true),
    field('Requested by', requesterText(view.requester), true),
    field('Status', `${statusLine(view)} ${phaseText(view)}`),
  ];
  let description: string;
  if (view.phase === 'failed') {
    description = `${STATUS_EMOJI.fail} The check itself failed: ${inlineWithin(view.error ?? 'unknown error', 1500)}`;
  } else if (view.diagnosis) {
    description = `${causeLine(view.diagnosis)}\n${inlineWithin(view.diagnosis.summary, 2000)}`;
    if (view.diagnosis.next.length > 0) fields.push(field('Next', bullets(view.diagnosis.next, EMBED_LIMITS.fieldValue)));
    if (view.diagnosis.alternatives.length > 0) {
      const alts = view.diagnosis.alternatives.map((a) => `${a.cause} (${a.step}, ${a.confidence})`).join(', ');
      fields.push(field('Also possible', inlineWithin(alts, 500)));
    }
  } else {
    description = `${STATUS_EMOJI.running} Running the SSH checklist from the bastion…`;
  }
  if (view.phase === 'finished') {
    const lines = view.steps.map((s) => `${STATUS_EMOJI[s.status]} ${s.n}. ${inlineWithin(s.title, 80)}`);
    fields.push(field('Checklist', lines.join('\n')));
  }
  if (view.notice !== undefined) fields.push(field('Engine', `${STATUS_EMOJI.warn} ${inlineWithin(view.notice, 900)}`));
  if (options.note !== undefined) fields.push(field('No thread', inlineWithin(options.note, 900)));
  return {
    title: `sshcheck ${inlineWithin(view.target, EMBED_LIMITS.title - 9)}`,
    description,
    color: view.phase === 'failed' ? COLOR.failed : !view.diagnosis ? COLOR.running : view.diagnosis.cause === 'healthy' ? COLOR.healthy : COLOR.problem,
    fields,
    footer: { text: 'Probed from the bastion, not from your machine: what works there can still fail for you.' },
  };
}

function evidenceField(e: Evidence): APIEmbedField {
  const label = PROBE_LABEL[e.probe] ?? e.probe;
  if (!e.lines || e.lines.length === 0) return field(label, inlineWithin(e.detail, EMBED_LIMITS.fieldValue));
  const detail = inlineWithin(e.detail, STEP_BUDGET.detail);
  return field(label, `${detail}\n${codeBlockWithin(e.lines, EMBED_LIMITS.fieldValue - detail.length - 1)}`);
}

function manualField(m: ManualCheck): APIEmbedField {
  const why = inlineWithin(m.why, 300);
  const command = codeBlockWithin([m.command], STEP_BUDGET.manualValue - why.length - 1);
  return field(`By hand on the ${m.where}`, `${command}\n${why}`);
}

function overflowField(count: number): APIEmbedField {
  return field(
    `${count} more piece${count === 1 ? '' : 's'} of evidence`,
    'Not shown: a Discord message holds at most 25 fields and 6000 characters. Run sshcheck with --json on the bastion for all of it.',
  );
}

/** One checklist step as an embed, within every Discord limit whatever its evidence. */
export function renderStep(step: StepReport): APIEmbed {
  const manual = step.status === 'pass' ? [] : step.manual.slice(0, STEP_BUDGET.manual).map(manualField);
  const evidence = step.evidence.map(evidenceField);
  const base: APIEmbed = {
    title: `${STATUS_EMOJI[step.status]} ${step.n}. ${inlineWithin(step.title, 200)}`,
    description: inlineWithin(step.summary, STEP_BUDGET.summary),
    color: STEP_COLOR[step.status],
    footer: { text: `settled ${duration(step.durationMs)} into the run` },
  };
  const build = (shown: number): APIEmbed => {
    const hidden = evidence.length - shown;
    return { ...base, fields: [...evidence.slice(0, shown), ...manual, ...(hidden > 0 ? [overflowField(hidden)] : [])] };
  };
  let shown = Math.min(evidence.length, EMBED_LIMITS.fields - manual.length - (evidence.length + manual.length > EMBED_LIMITS.fields ? 1 : 0));
  let embed = build(shown);
  while (shown > 0 && embedLength(embed) > EMBED_LIMITS.total) embed = build(--shown);
  return embed;
}

/** The whole checklist, one embed per step, for when it cannot go into a thread. */
export function renderChecklist(steps: readonly StepReport[]): APIEmbed[] {
  return steps.map(renderStep);
}

/** The ephemeral answer to a command that cannot be run (nothing was probed). */
export function renderUsageError(message: string): string {
  return `${STATUS_EMOJI.fail} Nothing was probed: ${inlineWithin(message, 900)}\n${DISCORD_USAGE}`;
}

/** The command's grammar as Discord shows it: typed options instead of words. */
export const DISCORD_USAGE = [
  'Usage: `/sshcheck target:<host> [port:<1-65535>] [user:<login name>]`',
  'target is a host name or IP address (`db-3`, `10.0.0.5`, `[2001:db8::1]`); `user@host:port` works too.',
  'sshcheck probes the host from the bastion, steps through the 10-step SSH checklist in a thread and puts the most likely cause in the first message.',
  '`/sshcheck target:<host> history:True` shows its recent runs instead (worked at 10:02, broken since 10:05), only to you.',
  '`/sshcheck target:<host> watch:every 30s for 2h` checks it again until it changes (`watch:on` for every 1 min for 1 h); `watch:stop` ends it.',
].join('\n');

/**
 * The Re-run button under a finished check's or fleet's parent (`customId` from
 * src/chat/rerun.ts); none while it runs (a click then would only queue a twin) or when the
 * command does not fit a custom_id.
 */
export function renderRerunRow(view: { phase: string }, customId: string | undefined): Array<APIActionRowComponent<APIComponentInMessageActionRow>> | undefined {
  if (customId === undefined || (view.phase !== 'finished' && view.phase !== 'failed')) return undefined;
  return [{ type: ComponentType.ActionRow, components: [{ type: ComponentType.Button, style: ButtonStyle.Secondary, label: 'Re-run', custom_id: customId }] }];
}
