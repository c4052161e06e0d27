// Report text in chat markup. Everything in a report may carry text a server chose (its
// banner, DNS names, ssh's echo of them), so none of it may become a mention, a link, a
// command or formatting. Words that could be any of those are put in inline code, where
// Slack mrkdwn and Discord markdown neither format, link nor mention, and the characters
// that could break out of code are replaced. Slack additionally needs &, <, > as entities:
// it parses <!channel>, <@U…> and <http…> before anything else, even inside code.
export type Dialect = 'slack' | 'discord';

/** Replaces characters that would end a code span or block. */
function defuseBackticks(text: string): string {
  return text.replace(/`/g, 'ˋ');
}

function entities(text: string, dialect: Dialect): string {
  return dialect === 'slack' ? text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : text;
}

/** Control, bidi and zero-width characters: never shown. */
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

/**
 * A word needs code formatting when it could be read as markup: a mention (@everyone,
 * <@id>, <!channel>), a link (http://…, a domain like evil.example, a masked [x](url)),
 * an emoji (:name:), formatting (* _ ~ | \ `), or a quote, heading or list at the start.
 * Colons, brackets and commas on their own are ordinary punctuation ("reachable:").
 */
const RISKY = /[@<>*_~|\\`]|:\/\/|:[A-Za-z0-9_+-]+:|\.[A-Za-z]{2,}|\]\(|^[#>-]/;

/**
 * A word's sentence punctuation (`10.78.2.2:2222:` before "Connection refused") is not part of
 * what it names, so it stays outside the code span. Not after a word that starts with a colon
 * (`:emoji:` is code whole), and never a bracket (a masked link keeps its parenthesis inside).
 */
const SENTENCE_END = /^([^:].*?)([:,;.])$/;

function safeWord(word: string, dialect: Dialect): string {
  if (!RISKY.test(word)) return entities(word, dialect);
  // An opening parenthesis of the sentence stays outside too ("(`a.example`,"); a masked
  // link's "](" keeps its brackets inside.
  const lead = word.startsWith('(') && word.length > 1 && !word.includes('](') ? '(' : '';
  const rest = word.slice(lead.length);
  const split = SENTENCE_END.exec(rest);
  let [core, tail] = split ? [split[1] ?? rest, split[2] ?? ''] : [rest, ''];
  if (lead && core.endsWith(')') && core.length > 1) [core, tail] = [core.slice(0, -1), `)${tail}`];
  // What is left outside is punctuation alone, which can neither start nor end an emoji, a
  // mention or a link on its own; the core stays code even when it no longer looks risky.
  return `${lead}\`${entities(defuseBackticks(core), dialect)}\`${tail}`;
}

export function safeInline(text: string, dialect: Dialect): string {
  const clean = text.replace(INVISIBLE, '').replace(/\s+/g, ' ');
  return clean
    .split(' ')
    .map((word) => safeWord(word, dialect))
    .join(' ')
    .replace(/` `/g, ' ');
}

/** One span of inline code, whatever it holds. */
export function inlineCode(text: string, dialect: Dialect): string {
  const body = entities(defuseBackticks(text.replace(INVISIBLE, '').replace(/\s+/g, ' ')), dialect);
  return body.length > 0 ? `\`${body}\`` : '';
}

const CODE_SPAN = /`([^`\n]+)`/g;

/**
 * Report text for chat: the engine writes commands as `code spans`, which stay code (one
 * span, not broken into words); everything between them goes through safeInline. A
 * backtick a server sent can only move where a span starts or ends: either side of it is
 * still code or still checked word by word.
 */
export function safeText(text: string, dialect: Dialect): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(CODE_SPAN)) {
    const before = safeInline(text.slice(last, m.index), dialect);
    out += `${before}${before.length > 0 && !before.endsWith(' ') ? ' ' : ''}${inlineCode(m[1] ?? '', dialect)}`;
    last = m.index + m[0].length;
  }
  const rest = safeInline(text.slice(last), dialect);
  return `${out}${out.length > 0 && rest.length > 0 && !/^[ ,.;:)]/.test(rest) ? ' ' : ''}${rest}`.trim();
}

/** Lines shown verbatim (the ssh -vvv phase list) as a code block. */
export function codeBlock(lines: readonly string[], dialect: Dialect): string {
  const body = lines.map((l) => entities(defuseBackticks(l.replace(INVISIBLE, '')), dialect)).join('\n');
  return `\`\`\`\n${body}\n\`\`\``;
}

/** Cuts text to a limit on a character boundary, marking the cut. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const chars = Array.from(text);
  let out = '';
  for (const ch of chars) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}
