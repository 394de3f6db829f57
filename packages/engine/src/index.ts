export * from './clock.ts';
export * from './membership-service.ts';
export * from './segment-service.ts';
export * from './ingest-service.ts';
