export { Strata, createStrata, type Experience, type Json, type Properties, type StrataConfig, type Targeting } from './client.ts';
export { backoffDelay, outcomeOf, type RetryOptions } from './backoff.ts';
export { browserOf, deviceTypeOf, osOf, parseCampaign, type Campaign, type DeviceType } from './context.ts';
export { PersistentQueue, type Message, type QueueLimits } from './queue.ts';
export { VERSION } from './version.ts';
