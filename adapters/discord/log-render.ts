// The embed answering /sshcheck-explain: where the log stopped, the checklist step and cause,
// the summary, what to do, and the phase list as a code block. Pure. Everything from the log
// (the requester's text, and ssh's echo of what a server sent) goes through
// inlineWithin/codeBlockWithin, so it can neither mention, link nor format, and the embed
// stays within Discord's limits whatever the log holds.
import type { APIEmbed, APIEmbedField } from 'discord.js';
import type { Explanation } from '../../src/explain/explain.js';
import { formatBytes, MAX_ATTACHMENT_BYTES } from '../../src/chat/log-reply.js';
import { STATUS_EMOJI } from '../../src/chat/views.js';
import { explanationIcon, logCauseText } from '../../src/chat/log-views.js';
import type { LogSource } from '../../src/chat/log-views.js';
import { stepNumber } from '../../src/engine/report.js';
import { EMBED_LIMITS, codeBlockWithin, inlineWithin } from './render.js';
import { EXPLAIN_USAGE } from './explain-command.js';

const COLOR = { works: 0x57f287, problem: 0xed4245, unsure: 0xfee75c } as const;

function causeText(e: Explanation): string {
  return logCauseText(e, { cause: (c) => inlineWithin(c, 60), text: inlineWithin });
}

function bullets(items: readonly string[], max: number): string {
  const out: string[] = [];
  let used = 0;
  for (const item of items) {
    const line = `• ${inlineWithin(item, 400)}`;
    if (used + line.length + 1 > max) break;
    out.push(line);
    used += line.length + 1;
  }
  return out.join('\n');
}

export function renderLogExplanation(e: Explanation, source: LogSource): APIEmbed {
  const icon = explanationIcon(e);
  const reached = inlineWithin(`"${e.reached}"`, 300);
  const stop = e.stopLine !== undefined ? `: ${inlineWithin(e.stopLine, 600)}` : ' (no further output)';
  const fields: APIEmbedField[] = [
    { name: 'Checklist step', value: `${stepNumber(e.step)}. ${inlineWithin(e.stepTitle, 200)}`, inline: true },
    { name: 'Cause', value: causeText(e), inline: true },
    { name: 'Log', value: source.kind === 'paste' ? 'pasted into the command' : `the attached file ${inlineWithin(source.name, 200)}`, inline: true },
  ];
  const next = bullets(e.next, EMBED_LIMITS.fieldValue);
  if (next !== '') fields.push({ name: 'Next', value: next });
  const phases = e.phases;
  if (phases.length > 0) fields.push({ name: 'Phases in the log', value: codeBlockWithin(phases, EMBED_LIMITS.fieldValue) });
  return {
    title: `${icon} Where the ssh log stopped`,
    description: `After ${reached}${stop}\n${inlineWithin(e.summary, 1500)}`,
    color: e.connectionWorks ? COLOR.works : e.cause !== undefined ? COLOR.problem : COLOR.unsure,
    fields,
    footer: { text: 'Explained from the log itself: the connection of whoever ran ssh. Nothing was probed; /sshcheck checks a host from the bastion.' },
  };
}

/** The answer when the log was not read: which file, why, and how to give it. */
export function renderLogRefusal(name: string, reason: string): string {
  return `${STATUS_EMOJI.warn} I did not read ${inlineWithin(name, 200)}: ${inlineWithin(reason, 600)}.\n${EXPLAIN_USAGE}\nAt most ${formatBytes(MAX_ATTACHMENT_BYTES)} of log is read.`;
}

/** The answer when neither option was given. */
export function renderExplainUsage(message: string): string {
  return `${STATUS_EMOJI.warn} ${inlineWithin(message, 600)}.\n${EXPLAIN_USAGE}`;
}
