// Real ssh -v/-vvv logs recorded in the lab (test/fixtures/openssh-verbose), as a person would
// paste them, and a hostile variant whose server-chosen parts try to mention, link and format.
// Shared by the Slack and Discord log tests.
import { readFileSync } from 'node:fs';

const FIXTURES = new URL('../../../test/fixtures/openssh-verbose/', import.meta.url);

/** The log of a recorded case (`mtu-blackhole`, `silent-drop`, …), one line per line. */
export function fixtureLog(name: string): string {
  const fixture = JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as { lines: Array<{ text: string }> };
  return fixture.lines.map((l) => l.text).join('\n');
}

/** Markup a hostile server (or a careless paste) puts into a log: mentions, a link, formatting. */
export const HOSTILE_WORDS = '<!channel> @everyone @here <@U0VICTIM> <#C0SECRET> <https://evil.example|click> [click](https://evil.example) *bold* **bold** <@123456789012345678>';

/**
 * The MTU-blackhole log, with the hostile words where a server's words appear (its version
 * string, which the phase list shows) and where ssh echoes the host name.
 */
export function hostileLog(): string {
  return fixtureLog('mtu-blackhole')
    .replace(/remote software version (\S+)/, `remote software version $1 ${HOSTILE_WORDS}`)
    .replace('Connection to 10.77.2.2 port 22 timed out', `Connection to db-3.evil.example port 22 timed out ${HOSTILE_WORDS}`);
}

/** Text as Slack delivers what a person typed: &, < and > as entities (its own markup aside). */
export function slackEncode(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
