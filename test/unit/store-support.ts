// Reports for store and gate tests: only the fields the store reads are real.
import type { Report } from '../../src/engine/report.js';

export function fakeReport(over: { id: string; host?: string; port?: number; vantage?: string; cause?: string; at?: number; addresses?: string[] }): Report {
  return {
    schema: 'sshcheck/report@1',
    id: over.id,
    startedAt: new Date(over.at ?? Date.now()).toISOString(),
    durationMs: 1234,
    diagnosedMs: 1000,
    target: { input: over.host ?? 'db-3', host: over.host ?? 'db-3', port: over.port ?? 22, user: 'sshcheck', addresses: over.addresses ?? ['10.0.0.5'] },
    vantage: { name: over.vantage ?? 'bastion-eu-1' },
    steps: [],
    diagnosis: { cause: over.cause ?? 'healthy', step: over.cause && over.cause !== 'healthy' ? 'firewall' : null, confidence: 'high', summary: 'summary', next: [], alternatives: [] },
  } as unknown as Report;
}
