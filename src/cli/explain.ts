// `sshcheck explain`: reads a pasted `ssh -v`/`-vvv` log on stdin and says where it stopped.
import { MAX_LOG_BYTES, explainLog, renderExplanation } from '../explain/explain.js';
import { terminalSafe } from './render-text.js';

export const EXPLAIN_USAGE = `Usage: ssh -vvv user@host 2>&1 | sshcheck explain [--json]
Reads an ssh -v, -vv or -vvv log on stdin and says where the connection stopped, which
checklist step that belongs to, the likely cause and what to do.`;

async function readStdin(limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) break;
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

export async function runExplain(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  const unknown = argv.filter((a) => a !== '--json');
  if (unknown.length > 0 || argv.includes('--help')) {
    process.stderr.write(`${EXPLAIN_USAGE}\n`);
    return unknown.includes('--help') || argv.includes('--help') ? 0 : 2;
  }
  if (process.stdin.isTTY) process.stderr.write('Paste the ssh -vvv output, then press Ctrl-D:\n');
  const text = await readStdin(MAX_LOG_BYTES);
  if (text.trim() === '') {
    process.stderr.write(`sshcheck explain: no log on stdin.\n${EXPLAIN_USAGE}\n`);
    return 2;
  }
  const explanation = explainLog(text);
  if (!explanation.recognized) {
    process.stderr.write(`sshcheck explain: this is not ssh debug output (no line that ssh -v prints was found).\n${EXPLAIN_USAGE}\n`);
    return 2;
  }
  // A pasted log may carry a server's escape sequences: none reach the terminal.
  const rendered = renderExplanation(explanation).split('\n').map(terminalSafe).join('\n');
  process.stdout.write(json ? `${JSON.stringify(explanation, null, 2)}\n` : rendered);
  return explanation.connectionWorks ? 0 : 1;
}
