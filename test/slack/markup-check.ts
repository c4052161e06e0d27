// Finds Slack markup that server-chosen text could have smuggled into a message. Slack parses
// <!channel>, <@U…>, <#C…> and <https://…|label> anywhere, even inside code, so those may
// never appear raw (entities &lt; are fine); mention words and formatting are harmless only
// inside code spans and blocks.
export interface MarkupFinding {
  path: string;
  problem: string;
  excerpt: string;
}

/** Text outside ``` blocks and `code` spans. */
export function outsideCode(text: string): string {
  return text.replace(/```[\s\S]*?```/g, ' ').replace(/`[^`\n]*`/g, ' ');
}

const ANYWHERE: Array<[RegExp, string]> = [
  [/<![a-z]/i, 'a special mention (<!channel>, <!everyone>, <!here>)'],
  [/<#[A-Z0-9]/i, 'a channel link'],
  [/<(?:https?|mailto|ftp|slack):/i, 'a link'],
  [/<@[A-Z0-9]+(?:\|[^>]*)?>/i, 'a user mention'],
];

const OUTSIDE_CODE: Array<[RegExp, string]> = [
  [/@(?:everyone|channel|here)\b/i, 'a mention word'],
  [/\*bold\*/, 'bold formatting'],
  [/https?:\/\//i, 'a bare URL'],
  [/evil\.example/i, 'a link-like domain'],
];

function excerpt(text: string, index: number): string {
  return text.slice(Math.max(0, index - 30), index + 50);
}

/**
 * Every finding in every string inside `value` (a recorded request). `allowedMentions` are the
 * user mentions the adapter itself writes (the requester).
 */
export function findUnsafeMarkup(value: unknown, allowedMentions: readonly string[] = [], path = '$'): MarkupFinding[] {
  if (typeof value === 'string') {
    const findings: MarkupFinding[] = [];
    let text = value;
    for (const m of allowedMentions) text = text.split(m).join(' ');
    for (const [pattern, problem] of ANYWHERE) {
      const m = pattern.exec(text);
      if (m) findings.push({ path, problem, excerpt: excerpt(text, m.index) });
    }
    const outside = outsideCode(text);
    for (const [pattern, problem] of OUTSIDE_CODE) {
      const m = pattern.exec(outside);
      if (m) findings.push({ path, problem, excerpt: excerpt(outside, m.index) });
    }
    return findings;
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => findUnsafeMarkup(v, allowedMentions, `${path}[${i}]`));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => findUnsafeMarkup(v, allowedMentions, `${path}.${k}`));
  }
  return [];
}
