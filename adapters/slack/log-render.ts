// Block Kit for the answer to a pasted or attached ssh log: where it stopped, the checklist
// step and cause, the summary, what to do, and the phase list as a code block. Pure. The log
// is the requester's text (and ssh's echo of whatever the server sent), so every piece of it
// goes through safe-text (fitInline / fitCodeBlock), within Slack's limits.
import type { Explanation } from '../../src/explain/explain.js';
import { MAX_ATTACHMENT_BYTES, formatBytes } from '../../src/chat/log-reply.js';
import { STATUS_EMOJI } from '../../src/chat/views.js';
import { explanationIcon, logCauseText } from '../../src/chat/log-views.js';
import type { LogSource } from '../../src/chat/log-views.js';
import { stepNumber } from '../../src/engine/report.js';
import { SLACK_LIMITS, fitCodeBlock, fitInline, fitMessageText } from './limits.js';
import { capBlocks, causeCode, context, section } from './render.js';
import type { SlackBlock, SlackMessage } from './render.js';

const SECTION = SLACK_LIMITS.sectionText;


function sourceText(source: LogSource): string {
  return source.kind === 'paste' ? 'the log above' : `the attached file ${fitInline(source.name, 200)}`;
}

function causeText(e: Explanation): string {
  return logCauseText(e, { cause: causeCode, text: fitInline });
}

function stopText(e: Explanation, max: number): string {
  const reached = fitInline(`"${e.reached}"`, Math.floor(max / 3));
  const stop = e.stopLine !== undefined ? `: ${fitInline(e.stopLine, max - reached.length - 10)}` : ' (no further output)';
  return `after ${reached}${stop}`;
}

export function renderLogExplanation(e: Explanation, source: LogSource): SlackMessage {
  const n = stepNumber(e.step);
  const where = `🔎 *Where the ssh log stopped:* ${stopText(e, 1500)}`;
  const stepHead = `${explanationIcon(e)} *Step ${n}, ${fitInline(e.stepTitle, 100)}:* ${causeText(e)}`;
  const blocks: SlackBlock[] = [section(where), section(`${stepHead}\n${fitInline(e.summary, SECTION - stepHead.length - 1)}`)];
  if (e.next.length > 0) {
    const items = e.next.slice(0, 8).map((item) => `• ${fitInline(item, 600)}`);
    blocks.push(section(`*Next:*\n${items.join('\n')}`));
  }
  const phases = e.phases;
  if (phases.length > 0) blocks.push(section(`*Phases in the log:*\n${fitCodeBlock(phases, SECTION - 25)}`));
  blocks.push(context(`From ${sourceText(source)}: this is the connection of whoever ran ssh, explained from its own output; nothing was probed. \`/sshcheck &lt;host&gt;\` checks the host from the bastion.`));
  const text = `Where the ssh log stopped: ${stopText(e, 1000)}. Step ${n}, ${fitInline(e.stepTitle, 100)}: ${causeText(e)}. ${fitInline(e.summary, 2000)}`;
  return { text: fitMessageText([text]), blocks: capBlocks(blocks) };
}

/** A log that was not read: which file and why, and how to get it read. Nothing was fetched, or it failed. */
export function renderLogRefusal(name: string, reason: string): SlackMessage {
  const line = `${STATUS_EMOJI.warn} I did not read ${fitInline(name, 200)}: ${fitInline(reason, 1000)}.`;
  const hint = `Paste the output of \`ssh -vvv user@host\` here, or attach it as a text file (.log or .txt) of at most ${formatBytes(MAX_ATTACHMENT_BYTES)}.`;
  return { text: fitMessageText([line]), blocks: [section(line), context(hint)] };
}
