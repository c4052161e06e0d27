// Finds Discord markup that would be live in a message: mentions, links, formatting,
// headings, quotes — anywhere outside code blocks and inline code, where Discord renders
// none of it. Used on every string of every request body the adapter sent.
import type { Json } from './fake-discord.js';

const LIVE: ReadonlyArray<readonly [RegExp, string]> = [
  [/@(everyone|here)\b/i, 'mass mention'],
  [/<@[!&]?\d+>/, 'user or role mention'],
  [/<#\d+>/, 'channel mention'],
  [/<\/[^>]+:\d+>/, 'command mention'],
  [/<a?:\w+:\d+>/, 'custom emoji'],
  [/<t:-?\d+(:[a-zA-Z])?>/, 'timestamp'],
  [/https?:\/\//i, 'link'],
  [/\]\(/, 'masked link'],
  [/\*|__|~~|\|\|/, 'bold, italics, underline, strikethrough or spoiler'],
  [/(^|\s)_\S/, 'italics'],
  [/^\s*(#{1,3}\s|>\s|-#\s)/m, 'heading, quote or subtext'],
  [/`/, 'an unbalanced backtick (a code span that never closes)'],
];

/** The text with every code block and inline code span taken out. */
export function outsideCode(text: string): string {
  return text.replace(/```[\s\S]*?```/g, ' ').replace(/`[^`\n]*`/g, ' ');
}

/** What is live in one string; `allowed` are exact strings we put there on purpose. */
export function liveMarkup(text: string, allowed: readonly string[] = []): string[] {
  let rest = outsideCode(text);
  for (const a of allowed) rest = rest.split(a).join(' ');
  return LIVE.filter(([re]) => re.test(rest)).map(([, what]) => `${what} in ${JSON.stringify(text.slice(0, 200))}`);
}

/** Every string inside a JSON value. */
export function strings(value: Json | undefined): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}
