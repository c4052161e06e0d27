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
 * <@id>, <!channel>), a link or domain (http://…, evil.example), an emoji or channel
 * reference (:x:, #chan), formatting (*_~|>[]()\), or spoiler/heading syntax.
 */
const RISKY = /[@<>:/\\*_~|#[\]()!`]|\.[A-Za-z]|^[-+>]/;

export function safeInline(text: string, dialect: Dialect): string {
  const clean = text.replace(INVISIBLE, '').replace(/\s+/g, ' ');
  return clean
    .split(' ')
    .map((word) => (RISKY.test(word) ? `\`${entities(defuseBackticks(word), dialect)}\`` : entities(word, dialect)))
    .join(' ')
    .replace(/` `/g, ' ');
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
