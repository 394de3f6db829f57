export * from './clock.ts';
export * from './membership-service.ts';
export * from './segment-service.ts';
export * from './ingest-service.ts';
export * from './webhooks.ts';
export * from './live-engine.ts';
export * from './wake-heap.ts';
export * from './hygiene-service.ts';
