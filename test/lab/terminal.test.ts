// The live checklist through a real terminal: the CLI runs in tmux panes of several heights
// (a real pty, tmux's own terminal emulation), from the lab's bastion against a dropped port
// (the run takes over a second, so the spinner and several redraws happen). Afterwards the
// pane's scrollback and screen are read back: the checklist's header must appear at most once
// at every height (no smearing into the scrollback), panes under 14 rows get line mode, and the
// report's last line is the verdict.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ADDR, Lab, labUnavailable } from './lab.js';

const CLI = fileURLToPath(new URL('../../../bin/sshcheck.js', import.meta.url));
const tmuxMissing = spawnSync('tmux', ['-V']).error !== undefined ? 'tmux is not installed (apt-get install -y tmux)' : undefined;
const unavailable = labUnavailable() ?? tmuxMissing;
if (unavailable) console.log(`# lab: the live checklist in a real terminal skipped: ${unavailable}`);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('lab: the live checklist in tmux panes of 5 to 50 rows', { skip: unavailable ?? false }, () => {
  test('no copies in the scrollback at any height; line mode below 14 rows; the verdict last', async () => {
    const lab = await Lab.create();
    const socket = `sshcheck-term-${process.pid}`;
    const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8', timeout: 10_000 });
    try {
      await lab.startDns([]);
      await lab.startSshd({ listenAll: true });
      await lab.iptables(lab.target, '-A', 'INPUT', '-p', 'tcp', '--dport', '2222', '-j', 'DROP');
      for (const rows of [5, 8, 13, 14, 15, 24, 50]) {
        const name = `h${rows}`;
        const command = ['ip', 'netns', 'exec', lab.bastion, 'env', `SSHCHECK_DB=${lab.workDir}/term.db`, 'NO_COLOR=1', process.execPath, CLI, '-p', '2222', ADDR.target];
        const quoted = command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
        // A prompt line first, as in a shell: tmux moves a screen erased from its top-left corner
        // into the scrollback (scroll-on-clear), which would read as a copy left behind.
        const made = tmux('new-session', '-d', '-s', name, '-x', '120', '-y', String(rows), `echo '$ sshcheck'; ${quoted}; echo "__EXIT__ $?"; sleep 60`);
        assert.equal(made.status, 0, made.stderr);
        let text = '';
        for (let i = 0; i < 300 && !/__EXIT__ \d+/.test(text); i++) {
          await sleep(100);
          text = tmux('capture-pane', '-p', '-J', '-t', name, '-S', '-', '-E', '-').stdout;
        }
        tmux('kill-session', '-t', name);
        assert.match(text, /__EXIT__ 1/, `rows=${rows}: the run ended with exit 1:\n${text}`);
        const lines = text.split('\n');
        const headers = lines.filter((l) => /checking sshcheck@10\.77\.2\.2:2222 from/.test(l)).length;
        assert.ok(headers <= 1, `rows=${rows}: the checklist header appears ${headers} times:\n${text}`);
        const stepLines = lines.filter((l) => /^\s*\d+ (PASS|WARN|FAIL|SKIP|\.\.\.\.) /.test(l)).length;
        assert.equal(stepLines, 10, `rows=${rows}: exactly the report's ten step lines remain:\n${text}`);
        if (rows < 14) assert.match(text, /\] step 3 firewall: fail/, `rows=${rows}: line mode`);
        else assert.doesNotMatch(text, /\] step \d+ /, `rows=${rows}: the live checklist, not lines`);
        const beforeExit = lines.slice(0, lines.findIndex((l) => l.startsWith('__EXIT__'))).filter((l) => l.trim() !== '');
        assert.match(beforeExit.at(-1) ?? '', /^Verdict: port-filtered \(firewall, high confidence\): /, `rows=${rows}: the verdict is the last line`);
      }
    } finally {
      tmux('kill-server');
      await lab.destroy();
    }
  });
});
