import type { SqlStore } from '../sql-store.ts';
import type { EventLog } from './event-log.ts';
import { SqlEventLog } from './sql-log.ts';
import { SqliteEventLog } from './sqlite-log.ts';

/**
 * The embedded event log of a store: on SQLite a file of its own beside the database file
 * (`strata-log.db`; in memory for an in-memory store), on PostgreSQL a table of the same database.
 */
export function openEventLog(store: SqlStore): EventLog {
  return store.dialect === 'sqlite' ? new SqliteEventLog(store.eventLogFile ?? ':memory:') : new SqlEventLog(store);
}
