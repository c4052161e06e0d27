// What the gate's answer means for a chat request, the same on every platform: one decision
// for a single command (refused, a history answer, or run with a ticket and maybe a queue
// notice), and one admission flow for a fleet (admit, acknowledge, run). Adapters ask these
// after they have acknowledged the platform (the gate may look up user groups or wait on a
// store) and only render what comes back.
import type { Logger } from '../log.js';
import type { RunRow } from '../store/store.js';
import type { EngineClient } from './engine-client.js';
import type { FleetCommand } from './fleet-grammar.js';
import type { FleetFlowResult, FleetSurface } from './fleet-flow.js';
import { runFleetFlow } from './fleet-flow.js';
import type { Gate, GateActor, Ticket } from './gate.js';
import type { ChatCommand } from './grammar.js';
import type { Pacer } from './pacer.js';
import { errorMessage } from '../errors.js';

/** The gate as adapters use it: required (fail closed), so a test passes an explicit open one. */
export type ChatGate = Pick<Gate, 'admit' | 'admitFleet'>;

export type CommandDecision =
  /** Nothing is checked; `message` is for the requester only. */
  | { kind: 'refused'; message: string }
  /** The host's recent runs (no probing), for the requester only. */
  | { kind: 'history'; host: string; runs: readonly RunRow[]; available: boolean }
  /** Run it through `ticket`; `notice` (its place in the queue) is for the requester only. */
  | { kind: 'run'; ticket: Ticket; notice?: string };

/** Asks the gate about one parsed single-host command. */
export async function gateCommand(gate: ChatGate, command: Extract<ChatCommand, { kind: 'check' | 'history' }>, actor: GateActor): Promise<CommandDecision> {
  const decision = await gate.admit({
    action: command.kind,
    target: command.target,
    ...(command.via !== undefined ? { via: command.via } : {}),
    ...(command.from !== undefined ? { from: command.from } : {}),
    actor,
  });
  switch (decision.kind) {
    case 'denied':
      return { kind: 'refused', message: decision.message };
    case 'history':
      return { kind: 'history', host: command.target.host, runs: decision.runs, available: decision.available };
    case 'admitted':
      return { kind: 'run', ticket: decision.ticket, ...(decision.ticket.queueMessage !== undefined ? { notice: decision.ticket.queueMessage } : {}) };
  }
}

export interface FleetRequest {
  gate: ChatGate;
  actor: GateActor;
  fleet: FleetCommand;
  engine: EngineClient;
  pacer: Pacer;
  logger: Logger;
  vantage: string;
  /** The requester as the platform shows them. */
  requester: string;
  /** Ids for the log lines (channel, user, interaction); never secrets. */
  origin: Record<string, unknown>;
  /** Tells the requester privately that nothing was checked, and why. */
  refuse(message: string): Promise<void>;
  /** Tells the requester privately that the fleet was taken (`notice`: its place in the queue). */
  accept(notice: string | undefined): Promise<void>;
  /** The thread the fleet posts in, built once it is admitted. */
  surface(): FleetSurface;
}

/**
 * A fleet from chat: the gate (permission, every host against the policy, one rate token, one
 * slot), then the requester hears back, then the hosts run and the thread is posted. The
 * slot is freed however it ends. Undefined when refused.
 */
export async function admitAndRunFleet(request: FleetRequest): Promise<FleetFlowResult | undefined> {
  const { logger, fleet, origin } = request;
  const decision = await request.gate.admitFleet({ targets: fleet.targets, actor: request.actor });
  if (decision.kind === 'denied') {
    await request.refuse(decision.message).catch((err: unknown) => logger.warn('fleet refusal could not be shown', { ...origin, error: errorMessage(err) }));
    return undefined;
  }
  const { ticket } = decision;
  try {
    await request.accept(ticket.queueMessage).catch((err: unknown) => logger.error('acknowledging the fleet failed', { ...origin, error: errorMessage(err) }));
    logger.info('fleet check requested', { ...origin, hosts: fleet.targets.length, label: fleet.label });
    const result = await runFleetFlow({
      surface: request.surface(),
      engine: ticket.wrap(request.engine),
      pacer: request.pacer,
      logger,
      targets: fleet.targets,
      label: fleet.label,
      vantage: request.vantage,
      requester: request.requester,
    });
    logger.info('fleet check finished', { ...origin, hosts: fleet.targets.length, problems: result.reports.filter((r) => r.diagnosis.cause !== 'healthy').length, failed: result.failed });
    return result;
  } finally {
    ticket.finish();
  }
}

