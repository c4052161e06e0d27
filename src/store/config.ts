// What the `store:` section of the engine config says (src/config/store-section.ts parses
// it): where the audit log and run history live, how long they are kept, and how recent a
// healthy run must be to count in the ban heuristic.
//
//   store:
//     path: /var/lib/sshcheck/sshcheck.db   # default: see paths.ts ($SSHCHECK_DB wins)
//     retention_days: 90
//     healthy_window_minutes: 60

export interface StoreConfig {
  path?: string;
  /** Audit rows and runs older than this are deleted. */
  retentionDays?: number;
  /** A healthy run from this vantage this recent, with silence now, raises the `banned` finding. */
  healthyWindowMinutes?: number;
}

export const DEFAULT_RETENTION_DAYS = 90;
export const DEFAULT_HEALTHY_WINDOW_MINUTES = 60;
