export * from './app.ts';
export * from './bootstrap.ts';
export * from './config.ts';
export * from './context.ts';
export * from './errors.ts';
export { normalizeMessage, MAX_BATCH_BYTES, MAX_BATCH_ITEMS, MAX_EVENT_BYTES } from './ingest/normalize.ts';
export { uploadSource } from './import/read-rows.ts';
export { recordAudit, credentialOf, secretFingerprint, AUDITED, NOT_CHANGES, type AuditSpec, type AuditReader } from './audit.ts';
export { startWorkerRole, workerHealthServer, type WorkerRole } from './worker-role.ts';
