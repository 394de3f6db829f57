export * from './backends.ts';
export * from './load-case.ts';
export * from './nats.ts';
