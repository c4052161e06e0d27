// Turns a run's progress events into thread operations: the parent message first, then one
// reply per step in checklist order as the steps settle (a step is posted once every step
// before it has settled), the parent updated as soon as the diagnosis is known, and at the
// end the remaining replies, edits of replies whose content changed, and the final parent.
import type { ProgressEvent, StepId, StepReport } from '../engine/report.js';
import { STEP_IDS } from '../engine/report.js';
import type { ParentView } from './views.js';
import { nextParent } from './views.js';

export type ThreadOp =
  | { op: 'parent'; view: ParentView }
  | { op: 'reply'; step: StepReport }
  | { op: 'reply-update'; step: StepReport };

export class ThreadPlan {
  private view: ParentView;
  private readonly settled = new Map<StepId, StepReport>();
  private readonly posted = new Map<StepId, string>();
  private next = 0;

  constructor(initial: ParentView) {
    this.view = initial;
  }

  get parent(): ParentView {
    return this.view;
  }

  /** The operations this event calls for, in the order they must happen. */
  push(event: ProgressEvent): ThreadOp[] {
    const ops: ThreadOp[] = [];
    this.view = nextParent(this.view, event);
    switch (event.type) {
      case 'run-started':
        ops.push({ op: 'parent', view: this.view });
        break;
      case 'step-updated':
        if (event.step.status !== 'running') this.settled.set(event.step.id, event.step);
        ops.push(...this.replies());
        break;
      case 'diagnosis':
        ops.push({ op: 'parent', view: this.view });
        break;
      case 'run-finished':
        for (const step of event.report.steps) this.settled.set(step.id, step);
        ops.push(...this.replies());
        for (const step of event.report.steps) {
          const before = this.posted.get(step.id);
          if (before !== undefined && before !== signature(step)) {
            this.posted.set(step.id, signature(step));
            ops.push({ op: 'reply-update', step });
          }
        }
        ops.push({ op: 'parent', view: this.view });
        break;
    }
    return ops;
  }

  private replies(): ThreadOp[] {
    const ops: ThreadOp[] = [];
    for (;;) {
      const id = STEP_IDS[this.next];
      const step = id === undefined ? undefined : this.settled.get(id);
      if (id === undefined || step === undefined) break;
      this.posted.set(id, signature(step));
      ops.push({ op: 'reply', step });
      this.next += 1;
    }
    return ops;
  }
}

/** What a reply shows; timings alone do not make an edit worth sending. */
function signature(step: StepReport): string {
  return JSON.stringify([step.status, step.summary, step.evidence, step.manual]);
}
