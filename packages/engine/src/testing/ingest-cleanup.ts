import { rmSync } from 'node:fs';
import { afterEach } from 'vitest';
import type { SqlStore } from '@strata/store';
import type { IngestService } from '../ingest-service.ts';

/**
 * What an ingest test opened (services with their stores, temporary folders), stopped and removed
 * after each test of the calling suite. Call it inside a `describe`.
 */
export function ingestCleanup(): { dirs: string[]; open: { service: IngestService; store: SqlStore }[] } {
  const dirs: string[] = [];
  const open: { service: IngestService; store: SqlStore }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) {
      await o.service.stop(0);
      await o.store.close();
    }
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return { dirs, open };
}
