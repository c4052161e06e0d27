// Block Kit for the thread: the parent message, one reply per step, the fallback message and
// the short command answers. Pure: views in, message payloads out. Every piece of report text
// (it may carry what a server chose to send) goes through safe-text after being clipped, so
// it can never become a mention, a link or formatting, and every message stays within
// Slack's limits whatever the evidence holds.
import type { Report, StepReport } from '../../src/engine/report.js';
import { CAUSES, STEP_IDS, STEP_TITLES } from '../../src/engine/report.js';
import { duration } from '../../src/engine/checklist/format.js';
import { CHAT_USAGE } from '../../src/chat/grammar.js';
import { RERUN_ACTION } from '../../src/chat/rerun.js';
import { codeBlock } from '../../src/chat/safe-text.js';
import type { ParentView } from '../../src/chat/views.js';
import { STATUS_EMOJI, statusLine } from '../../src/chat/views.js';
import { SLACK_LIMITS, fitCodeBlock, fitInline, fitMessageText, packTexts } from './limits.js';

export interface MrkdwnText {
  type: 'mrkdwn';
  text: string;
}

/** A Block Kit button: its click comes back as a block_actions payload with `action_id` and `value`. */
export interface SlackButton {
  type: 'button';
  action_id: string;
  text: { type: 'plain_text'; text: string };
  value: string;
}

export type SlackBlock = { type: 'section'; text: MrkdwnText } | { type: 'context'; elements: MrkdwnText[] } | { type: 'divider' } | { type: 'actions'; elements: SlackButton[] };

/** What chat.postMessage / chat.update / response_url take: blocks, and the text fallback. */
export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

const SECTION = SLACK_LIMITS.sectionText;

const mrkdwn = (text: string): MrkdwnText => ({ type: 'mrkdwn', text });
export const section = (text: string): SlackBlock => ({ type: 'section', text: mrkdwn(text) });
export const context = (text: string): SlackBlock => ({ type: 'context', elements: [mrkdwn(text)] });

/** Known identifiers (cause codes, step ids) are ours and safe to show as code. */
export function causeCode(cause: string): string {
  return (CAUSES as readonly string[]).includes(cause) ? `\`${cause}\`` : fitInline(cause, 60);
}

/** At most 50 blocks: the overflow is replaced by one line that says how much is missing. */
export function capBlocks(blocks: readonly SlackBlock[], max: number = SLACK_LIMITS.blocks): SlackBlock[] {
  if (blocks.length <= max) return [...blocks];
  const shown = blocks.slice(0, max - 1);
  const hidden = blocks.length - shown.length;
  return [...shown, context(`… ${hidden} more block${hidden === 1 ? '' : 's'} not shown: \`sshcheck --json\` on the bastion prints the whole report`)];
}

/** Sections from pieces of mrkdwn, each piece already within a section's limit. */
function sections(pieces: readonly string[]): SlackBlock[] {
  return packTexts(pieces, SECTION).map(section);
}

/** The requester is markup the adapter built (a user mention); it is bounded, never parsed. */
function requesterText(requester: string): string {
  return requester.length <= 100 ? requester : fitInline(requester, 100);
}

function headline(view: ParentView): string {
  return `*sshcheck* ${fitInline(view.target, 400)} from ${fitInline(view.vantage, 200)}, asked by ${requesterText(view.requester)}`;
}

function diagnosisPieces(view: ParentView): string[] {
  const d = view.diagnosis;
  if (!d) return [];
  const icon = d.cause === 'healthy' ? STATUS_EMOJI.pass : d.confidence === 'low' ? STATUS_EMOJI.warn : STATUS_EMOJI.fail;
  const owner = d.step !== null && (STEP_IDS as readonly string[]).includes(d.step) ? `, step ${STEP_IDS.indexOf(d.step) + 1}: ${STEP_TITLES[d.step]}` : '';
  const title = `${icon} *Diagnosis:* ${causeCode(d.cause)} (${fitInline(d.confidence, 20)} confidence${owner})`;
  const pieces = [`${title}\n${fitInline(d.summary, SECTION - title.length - 1)}`];
  if (d.next.length > 0) {
    const items = d.next.slice(0, 10).map((n) => `• ${fitInline(n, 600)}`);
    if (d.next.length > 10) items.push(`• … ${d.next.length - 10} more in the JSON report`);
    pieces.push(`*Next:*\n${items.join('\n')}`);
  }
  if (d.alternatives.length > 0) {
    const alts = d.alternatives.slice(0, 8).map((a) => `${causeCode(a.cause)} (${fitInline(a.confidence, 20)})`);
    pieces.push(`Also possible: ${alts.join(', ')}`);
  }
  return pieces;
}

function phaseLine(view: ParentView): string {
  switch (view.phase) {
    case 'running':
      return `${STATUS_EMOJI.running} Checking… the most likely cause appears here as soon as it is settled; every step follows in the thread.`;
    case 'diagnosed':
      return `Diagnosed in ${duration(view.elapsedMs)}; the remaining steps follow in the thread.`;
    case 'finished':
      return `${statusLine(view)}  finished in ${duration(view.elapsedMs)}`;
    case 'failed':
      return `${STATUS_EMOJI.fail} The check itself failed: ${fitInline(view.error ?? 'unknown error', 1500)}`;
  }
}

function footer(view: ParentView): string {
  return `Probed from ${fitInline(view.vantage, 200)}, not from the requester's machine: what works here can still fail there.`;
}

function parentBlocks(view: ParentView, notes: readonly string[], beforeFooter: readonly SlackBlock[] = []): SlackBlock[] {
  const blocks: SlackBlock[] = [section(headline(view))];
  blocks.push(...sections(diagnosisPieces(view)));
  blocks.push(view.phase === 'finished' || view.phase === 'failed' ? section(phaseLine(view)) : context(phaseLine(view)));
  if (view.reusedAgeMs !== undefined) {
    blocks.push(context(`Reused the result of the same check ${duration(view.reusedAgeMs)} ago instead of probing again${view.reusedReason !== undefined ? `: ${fitInline(view.reusedReason, 600)}` : ''}.`));
  }
  for (const note of notes.slice(0, 5)) blocks.push(context(`${STATUS_EMOJI.warn} ${fitInline(note, 1000)}`));
  if (view.notice !== undefined) blocks.push(context(`${STATUS_EMOJI.warn} ${fitInline(view.notice, 1000)}`));
  blocks.push(...beforeFooter, context(footer(view)));
  return blocks;
}

function parentText(view: ParentView): string[] {
  const lines = [`sshcheck ${fitInline(view.target, 400)} from ${fitInline(view.vantage, 200)}, asked by ${requesterText(view.requester)}`];
  const d = view.diagnosis;
  if (d) lines.push(`Diagnosis: ${causeCode(d.cause)}: ${fitInline(d.summary, 2000)}`);
  lines.push(phaseLine(view));
  if (view.notice !== undefined) lines.push(fitInline(view.notice, 1000));
  return lines;
}

/** Slack's limit on a button value; a longer check gets no button (the grammar caps commands at 500). */
const BUTTON_VALUE_MAX = 2000;

/**
 * The Re-run button of a check's or a fleet's parent, once it has ended (a click while it runs
 * would only queue a twin). `rerun`: the button's value (src/chat/rerun.ts).
 */
export function rerunBlocks(view: { phase: string }, rerun: string | undefined): SlackBlock[] {
  if (rerun === undefined || rerun.length > BUTTON_VALUE_MAX || (view.phase !== 'finished' && view.phase !== 'failed')) return [];
  return [{ type: 'actions', elements: [{ type: 'button', action_id: RERUN_ACTION, text: { type: 'plain_text', text: 'Re-run' }, value: rerun }] }];
}

/**
 * The channel message: what is checked, from where, for whom; the diagnosis once known.
 * `rerun`: the Re-run button's value (src/chat/rerun.ts), shown once the check has ended.
 */
export function renderParent(view: ParentView, notes: readonly string[] = [], rerun?: string): SlackMessage {
  return { text: fitMessageText(parentText(view)), blocks: capBlocks(parentBlocks(view, notes, rerunBlocks(view, rerun))) };
}

function stepHead(step: StepReport): string {
  const title = `${STATUS_EMOJI[step.status]} *${step.n}. ${fitInline(step.title, 100)}*`;
  return `${title}: ${fitInline(step.summary, SECTION - title.length - 2)}`;
}

function evidencePieces(step: StepReport): string[] {
  const pieces: string[] = [];
  for (const e of step.evidence) {
    if (e.lines && e.lines.length > 0) {
      const label = fitInline(e.detail, 300);
      pieces.push(`${label}\n${fitCodeBlock(e.lines, SECTION - label.length - 1)}`);
    } else {
      pieces.push(`• ${fitInline(e.detail, 1000)}`);
    }
  }
  return pieces;
}

const WHERE: Readonly<Record<string, string>> = { target: 'on the target', requester: "on the requester's machine" };

function manualPieces(step: StepReport): string[] {
  if (step.status === 'pass') return [];
  return step.manual.map((m) => {
    const label = `*By hand ${WHERE[m.where] ?? 'elsewhere'}:* ${fitInline(m.why, 500)}`;
    return `${label}\n${fitCodeBlock([m.command], SECTION - label.length - 1, 1500)}`;
  });
}

/** One thread reply: the step's status and summary, its evidence, what to run by hand. */
export function renderStep(step: StepReport): SlackMessage {
  const blocks = [section(stepHead(step)), ...sections(evidencePieces(step)), ...sections(manualPieces(step))];
  const text = `${STATUS_EMOJI[step.status]} ${step.n}. ${fitInline(step.title, 100)}: ${fitInline(step.summary, 2000)}`;
  return { text: fitMessageText([text]), blocks: capBlocks(blocks) };
}

/**
 * Everything in one message, for when the thread cannot be used: why, how to fix that (`hint`,
 * when Slack refused the conversation), the diagnosis and one line per step.
 */
export function renderFallback(view: ParentView, reason: string, hint?: string, report?: Report): SlackMessage {
  const why = hint !== undefined ? `${STATUS_EMOJI.warn} I could not post the check in this conversation: ${fitInline(reason, 800)}` : `${STATUS_EMOJI.warn} ${fitInline(reason, 800)}`;
  const steps = report ? report.steps.map((s) => `${STATUS_EMOJI[s.status]} ${s.n}. ${fitInline(s.title, 100)}: ${fitInline(s.summary, 250)}`) : [];
  const blocks = [section(why), ...(hint !== undefined ? [section(hint)] : []), ...parentBlocks(view, [], sections(steps))];
  return { text: fitMessageText([why, ...parentText(view)]), blocks: capBlocks(blocks) };
}

/** The requester's private word that the check was taken (and its place in the queue). */
export function renderAck(target: string, vantage: string, notice?: string): SlackMessage {
  const text = `Checking ${fitInline(target, 400)} from ${fitInline(vantage, 200)}…${notice !== undefined ? `\n${fitInline(notice, 500)}` : ''}`;
  return { text, blocks: [section(text)] };
}

/** The queue notice alone, for the requester only (an @mention has no "Checking…"). */
export function renderNotice(notice: string): SlackMessage {
  const text = fitInline(notice, 500);
  return { text, blocks: [section(text)] };
}

const USAGE_BLOCK = codeBlock(CHAT_USAGE.split('\n'), 'slack');

export function renderUsage(): SlackMessage {
  return { text: USAGE_BLOCK, blocks: [section(USAGE_BLOCK)] };
}

/** What was wrong with the command (nothing was probed), and the grammar. */
export function renderUsageError(message: string): SlackMessage {
  const line = `${STATUS_EMOJI.warn} ${fitInline(message, 1000)} (nothing was checked)`;
  return { text: fitMessageText([line, USAGE_BLOCK]), blocks: [section(line), section(USAGE_BLOCK)] };
}
