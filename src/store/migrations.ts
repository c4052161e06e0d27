// The store's schema, as numbered migrations. `PRAGMA user_version` holds the version a
// file is at; opening it applies every later migration in one IMMEDIATE transaction, so two
// processes opening a fresh file at once migrate it once. Migrations are only ever added
// at the end, never edited: files in the field are at every version in between.
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'audit log: one row per request, allowed or denied',
    sql: `
      CREATE TABLE audit (
        id          INTEGER PRIMARY KEY,
        at_ms       INTEGER NOT NULL,
        source      TEXT    NOT NULL,
        action      TEXT    NOT NULL,
        workspace   TEXT,
        channel     TEXT,
        user        TEXT,
        target      TEXT    NOT NULL,
        host        TEXT    NOT NULL,
        port        INTEGER,
        addresses   TEXT    NOT NULL DEFAULT '[]',
        bastion     TEXT,
        verdict     TEXT    NOT NULL,
        denial      TEXT,
        reason      TEXT,
        cause       TEXT,
        duration_ms INTEGER,
        report_id   TEXT
      );
      CREATE INDEX audit_at ON audit (at_ms);
    `,
  },
  {
    version: 2,
    name: 'run history: one row per report, for `history` and the ban heuristic',
    sql: `
      CREATE TABLE runs (
        report_id   TEXT    PRIMARY KEY,
        at_ms       INTEGER NOT NULL,
        host        TEXT    NOT NULL,
        port        INTEGER NOT NULL,
        user        TEXT    NOT NULL,
        vantage     TEXT    NOT NULL,
        addresses   TEXT    NOT NULL DEFAULT '[]',
        cause       TEXT    NOT NULL,
        confidence  TEXT    NOT NULL,
        step        TEXT,
        summary     TEXT    NOT NULL,
        duration_ms INTEGER NOT NULL,
        source      TEXT    NOT NULL
      );
      CREATE INDEX runs_host ON runs (host, at_ms);
      CREATE INDEX audit_host ON audit (host, at_ms);
    `,
  },
  {
    version: 3,
    name: 'connection ledger: connections to each target per bastion, and the result kept for reuse',
    sql: `
      CREATE TABLE connection_ledger (
        id          INTEGER PRIMARY KEY,
        at_ms       INTEGER NOT NULL,
        vantage     TEXT    NOT NULL,
        host        TEXT    NOT NULL,
        port        INTEGER NOT NULL,
        requester   TEXT,
        connections INTEGER NOT NULL,
        ended_ms    INTEGER,
        report      TEXT
      );
      CREATE INDEX connection_ledger_key ON connection_ledger (vantage, host, at_ms);
    `,
  },
  {
    version: 4,
    name: 'which process owns an unfinished row, so a crashed one is closed as interrupted',
    sql: `
      ALTER TABLE audit ADD COLUMN owner TEXT;
      CREATE INDEX audit_open ON audit (verdict) WHERE verdict IN ('queued', 'running');
    `,
  },
  {
    version: 5,
    name: 'watches: a chat watch survives a restart of the bot (resumed, or its thread told it stopped)',
    sql: `
      CREATE TABLE watches (
        id          TEXT    PRIMARY KEY,
        platform    TEXT    NOT NULL,
        workspace   TEXT,
        channel     TEXT    NOT NULL,
        user        TEXT    NOT NULL,
        requester   TEXT    NOT NULL,
        command     TEXT    NOT NULL,
        host        TEXT    NOT NULL,
        port        INTEGER NOT NULL,
        bastion     TEXT    NOT NULL,
        every_ms    INTEGER NOT NULL,
        started_ms  INTEGER NOT NULL,
        ends_ms     INTEGER NOT NULL,
        parent_ref  TEXT,
        thread_ref  TEXT,
        progress    TEXT    NOT NULL DEFAULT '{}',
        stopped_ms  INTEGER,
        stop_reason TEXT
      );
      CREATE INDEX watches_active ON watches (stopped_ms);
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
