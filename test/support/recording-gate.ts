// A gate for the Re-run tests of both adapters: the open gate, except that it refuses one user
// and can hold its answers, and it records who it was asked about (the clicker, not the
// person who typed the first command). Single checks and fleets go through the same door.
import type { ChatGate } from '../../src/chat/admission.js';
import type { GateActor } from '../../src/chat/gate.js';
import { openGate } from './open-gate.js';

const DENIED = { kind: 'denied' as const, reason: 'permission' as const, message: 'You may not run checks in this channel (nothing was checked)' };

/** The open gate, except that it refuses `refused` and holds every answer while `held` is set. */
export function recordingGate(refused: string): ChatGate & { actors: GateActor[]; hold(): void; release(): void; answered: number } {
  const inner = openGate();
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => undefined;
  const through = async <T>(actor: GateActor, answer: () => Promise<T>): Promise<T | typeof DENIED> => {
    state.actors.push(actor);
    await gate;
    state.answered += 1;
    return actor.user === refused ? DENIED : answer();
  };
  const state = {
    actors: [] as GateActor[],
    answered: 0,
    hold() {
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
    },
    release() {
      open();
    },
    admit: (request: Parameters<ChatGate['admit']>[0]) => through(request.actor, () => inner.admit(request)),
    admitFleet: (request: Parameters<ChatGate['admitFleet']>[0]) => through(request.actor, () => inner.admitFleet(request)),
  };
  return state;
}
