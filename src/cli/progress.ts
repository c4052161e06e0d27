// Progress on stderr while a run goes on: a live checklist redrawn in place on a terminal,
// plain timestamped lines otherwise. Renders from progress events alone.
import type { ProgressEvent, StepReport, StepRunning } from '../engine/report.js';
import { STEP_IDS } from '../engine/report.js';
import { duration } from '../engine/checklist/format.js';
import type { Style } from './render-text.js';
import { statusLabel, terminalSafe } from './render-text.js';

export interface ProgressSink {
  write(text: string): void;
  columns?: number;
}

export interface Progress {
  onEvent(event: ProgressEvent): void;
  /** Removes the live block (on a terminal) before the report is printed. */
  close(): void;
}

function clip(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
}

export function liveProgress(sink: ProgressSink, style: Style): Progress {
  const steps = new Map<string, StepReport | StepRunning>();
  let header = '';
  let verdict = '';
  let drawn = 0;
  const width = (): number => Math.max(40, (sink.columns ?? 100) - 1);
  const draw = (): void => {
    const lines = [header];
    for (const id of STEP_IDS) {
      const s = steps.get(id);
      if (!s) continue;
      const summary = s.summary ? `: ${terminalSafe(s.summary)}` : '';
      lines.push(clip(`${String(s.n).padStart(2)} ${statusLabel(s.status, style)} ${s.title}${summary}`, width()));
    }
    if (verdict) lines.push(clip(verdict, width()));
    const up = drawn > 0 ? `\u001b[${drawn}F` : '';
    sink.write(`${up}${lines.map((l) => `\u001b[2K${l}`).join('\n')}\n`);
    drawn = lines.length;
  };
  return {
    onEvent(event) {
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
          break;
      }
      draw();
    },
    close() {
      if (drawn > 0) sink.write(`\u001b[${drawn}F\u001b[0J`);
      drawn = 0;
    },
  };
}

export function plainProgress(sink: ProgressSink): Progress {
  return {
    onEvent(event) {
      const t = `[${duration(event.elapsedMs).padStart(7)}]`;
      switch (event.type) {
        case 'run-started':
          sink.write(`${t} checking ${event.target.user}@${event.target.host}:${event.target.port} from ${event.vantage.name}\n`);
          break;
        case 'step-updated':
          if (event.step.status !== 'running') sink.write(`${t} step ${event.step.n} ${event.step.id}: ${event.step.status} — ${terminalSafe(event.step.summary)}\n`);
          break;
        case 'diagnosis':
          sink.write(`${t} diagnosis: ${event.diagnosis.cause} — ${terminalSafe(event.diagnosis.summary)}\n`);
          break;
        case 'run-finished':
          sink.write(`${t} done\n`);
          break;
      }
    },
    close() {},
  };
}
