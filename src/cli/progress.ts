// Progress on stderr while a run goes on: a live checklist redrawn in place on a terminal,
// plain timestamped lines otherwise. Renders from progress events alone.
//
// The live block is redrawn by moving the cursor up over it, which only works while the whole
// block is on screen: a block taller than the pane scrolls its top into the scrollback, where
// no cursor movement reaches, and every redraw then leaves a copy behind. So the live
// checklist runs only while it fits (rows are read at every redraw: a pane can shrink), and
// otherwise falls back to line mode for the rest of the run.
import type { ProgressEvent, StepReport, StepRunning } from '../engine/report.js';
import { STEP_IDS } from '../engine/report.js';
import { duration } from '../engine/checklist/format.js';
import type { Style } from './render-text.js';
import { statusLabel, terminalSafe } from './render-text.js';

export interface ProgressSink {
  write(text: string): void;
  columns?: number;
  /** The pane's height, read at every redraw (undefined: assume the block fits). */
  rows?: number;
}

export interface Progress {
  onEvent(event: ProgressEvent): void;
  /** Removes the live block (on a terminal) before the report is printed. */
  close(): void;
}

export interface LiveOptions {
  /** Spinner frame interval; 0 turns the timer off (tests drive `tick` themselves). */
  tickMs?: number;
  /** The clock for the elapsed time (ms); default performance.now. */
  now?: () => number;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/** Header, ten steps, the verdict and the spinner line. */
export const LIVE_BLOCK_ROWS = 13;

function clip(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
}

/** Visible length: colour sequences take no columns. */
function visible(text: string): number {
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

function clipVisible(text: string, width: number): string {
  if (visible(text) <= width) return text;
  // Colour is only ever on the status label: clip the plain text when it would overflow.
  return clip(text.replace(/\u001b\[[0-9;]*m/g, ''), width);
}

/**
 * Erases the `drawn` lines above the cursor line by line and leaves the cursor on the first.
 * Not ED (ESC[J) from the block's top: when the block starts at the pane's top-left corner,
 * tmux treats that as clearing the screen and keeps a copy in the scrollback (scroll-on-clear).
 */
function eraseBlock(drawn: number): string {
  if (drawn === 0) return '';
  const down = Array.from({ length: drawn }, () => '\u001b[2K').join('\u001b[1E');
  return `\u001b[${drawn}F${down}${drawn > 1 ? `\u001b[${drawn - 1}F` : '\u001b[1G'}`;
}

export function liveProgress(sink: ProgressSink, style: Style, options: LiveOptions = {}): Progress & { tick(): void } {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const steps = new Map<string, StepReport | StepRunning>();
  let header = 'sshcheck: starting…';
  let verdict = '';
  let drawn = 0;
  let frame = 0;
  let finished = false;
  let lines: Progress | undefined;
  const pending: ProgressEvent[] = [];
  const width = (): number => Math.max(20, (sink.columns ?? 100) - 1);
  const spinnerLine = (): string => {
    if (finished) return '';
    const running = STEP_IDS.filter((id) => steps.get(id)?.status === 'running');
    const waiting = running.length > 0 ? `: waiting for ${running.map((id) => steps.get(id)?.n).join(', ')}` : '';
    return `${SPINNER[frame % SPINNER.length]} ${duration(now() - started)}${waiting}`;
  };
  const draw = (): void => {
    const block = [header];
    for (const id of STEP_IDS) {
      const s = steps.get(id);
      if (!s) continue;
      const summary = s.summary ? `: ${terminalSafe(s.summary)}` : '';
      block.push(clipVisible(`${String(s.n).padStart(2)} ${statusLabel(s.status, style)} ${s.title}${summary}`, width()));
    }
    if (verdict) block.push(clip(verdict, width()));
    const spin = spinnerLine();
    if (spin) block.push(clip(spin, width()));
    // Leave a row for the cursor below the block: the live checklist needs LIVE_BLOCK_ROWS + 1
    // rows (14) and otherwise uses lines.
    if (sink.rows !== undefined && Math.max(block.length, LIVE_BLOCK_ROWS) > sink.rows - 1) {
      fallBack();
      return;
    }
    const up = drawn > 0 ? `\u001b[${drawn}F` : '';
    // A shorter block (the spinner line gone) leaves lines below it: erase them too.
    const rest = drawn - block.length;
    const clearRest = rest > 0 ? `${Array.from({ length: rest }, () => '\u001b[2K').join('\u001b[1E')}${rest > 1 ? `\u001b[${rest - 1}F` : ''}` : '';
    sink.write(`${up}${block.map((l) => `\u001b[2K${l}`).join('\n')}\n${clearRest}`);
    drawn = block.length;
  };
  const fallBack = (): void => {
    // Erase what is on screen (it all still is: the block fitted when drawn), then print lines.
    sink.write(eraseBlock(drawn));
    drawn = 0;
    stopTimer();
    lines = plainProgress(sink);
    for (const e of pending) lines.onEvent(e);
    pending.length = 0;
  };
  const timer = options.tickMs === 0 ? undefined : setInterval(() => tick(), options.tickMs ?? 120);
  timer?.unref();
  const stopTimer = (): void => {
    if (timer) clearInterval(timer);
  };
  const tick = (): void => {
    if (lines || finished) return;
    frame++;
    draw();
  };
  draw();
  return {
    tick,
    onEvent(event) {
      if (lines) {
        lines.onEvent(event);
        return;
      }
      pending.push(event);
      switch (event.type) {
        case 'run-started':
          header = `checking ${event.target.user}@${event.target.host}:${event.target.port} from ${event.vantage.name}…`;
          break;
        case 'step-updated':
          steps.set(event.step.id, event.step);
          break;
        case 'diagnosis':
          verdict = `=> ${event.diagnosis.cause} after ${duration(event.elapsedMs)}: ${terminalSafe(event.diagnosis.summary)}`;
          break;
        case 'run-finished':
          finished = true;
          break;
      }
      draw();
    },
    close() {
      stopTimer();
      finished = true;
      sink.write(eraseBlock(drawn));
      drawn = 0;
    },
  };
}

/**
 * One line per change: the start, a step when its status or summary changed (a step that is
 * re-judged to the same result is not printed again), the diagnosis when it changed, the end.
 */
export function plainProgress(sink: ProgressSink): Progress {
  const last = new Map<string, string>();
  let lastDiagnosis = '';
  return {
    onEvent(event) {
      const t = `[${duration(event.elapsedMs).padStart(7)}]`;
      switch (event.type) {
        case 'run-started':
          sink.write(`${t} checking ${event.target.user}@${event.target.host}:${event.target.port} from ${event.vantage.name}\n`);
          break;
        case 'step-updated': {
          if (event.step.status === 'running') break;
          const line = `step ${event.step.n} ${event.step.id}: ${event.step.status} — ${terminalSafe(event.step.summary)}`;
          if (last.get(event.step.id) === line) break;
          last.set(event.step.id, line);
          sink.write(`${t} ${line}\n`);
          break;
        }
        case 'diagnosis': {
          const line = `diagnosis: ${event.diagnosis.cause} — ${terminalSafe(event.diagnosis.summary)}`;
          if (line === lastDiagnosis) break;
          lastDiagnosis = line;
          sink.write(`${t} ${line}\n`);
          break;
        }
        case 'run-finished':
          sink.write(`${t} done\n`);
          break;
      }
    },
    close() {},
  };
}
