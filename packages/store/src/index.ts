export * from './types.ts';
export * from './schema.ts';
export { migrate, type StoreDialect } from './migrations.ts';
export { SqlStore, hashToken } from './sql-store.ts';
export { openSqlite, registerFunctions } from './sqlite.ts';
export { openPostgres, postgresReachable } from './postgres.ts';
export { openPglite } from './pglite.ts';
export { createStore, type StoreConfig } from './create-store.ts';
export { WebhookStore, type WebhookRow, type DeliveryRow, type DeliveryStatus, type DueDelivery, type NewDelivery } from './webhook-store.ts';
