import { appliedPositions, checkLogPartitions, openEventLog, openJetStreamLog, redactNatsUrl, streamOwnerOf, unappliedInTable, type EventLog, type SqlStore } from '@strata/store';
import type { Config } from './config.ts';

/**
 * Opens the event log the configuration names (docs/operations.md § The event log): the embedded
 * one of the store, or the log on NATS JetStream when STRATA_NATS_URL is set. A start that would
 * leave acknowledged records unread is refused here, before anything listens:
 * - NATS over a database whose embedded log (the `event_log` table) still holds records not applied;
 * - a log of fewer partitions than the store has applied positions for (the embedded log after
 *   NATS, say; a JetStream stream made with another count is refused by the log itself);
 * - a stream made for another database (the same STRATA_NATS_PREFIX on one NATS server), which
 *   the log refuses by the store identity written into the stream (stream-owner.ts).
 * NATS not answering fails the start within seconds (the connection's timeout), never hangs it.
 */
export async function openConfiguredLog(store: SqlStore, config: Config): Promise<EventLog> {
  const log = await open(store, config);
  try {
    checkLogPartitions(await appliedPositions(store), log.partitions);
  } catch (err) {
    await log.close();
    throw err;
  }
  return log;
}

async function open(store: SqlStore, config: Config): Promise<EventLog> {
  const { natsUrl, prefix, partitions } = config.eventLog;
  if (natsUrl === null) return openEventLog(store);
  if (store.dialect !== 'postgres') throw new Error('STRATA_NATS_URL needs the PostgreSQL store (DATABASE_URL): the embedded SQLite store is local to one machine');
  const waiting = await unappliedInTable(store);
  if (waiting > 0) {
    throw new Error(`the embedded event log of this database holds ${waiting} acknowledged record${waiting === 1 ? '' : 's'} not applied yet, which a start on NATS would never read: `
      + 'start once without STRATA_NATS_URL and let it apply them (strata_ingest_backlog_events falls to 0), stop it, then start with STRATA_NATS_URL');
  }
  try {
    return await openJetStreamLog({ url: natsUrl, prefix, partitions, owner: await streamOwnerOf(store) });
  } catch (err) {
    throw new Error(`the event log on NATS JetStream at ${redactNatsUrl(natsUrl)} (prefix "${prefix}", ${partitions} partitions) could not be opened: ${(err as Error).message}`, { cause: err });
  }
}
