import type { JsonObject } from './data.ts';
import { isPlainObject } from './values.ts';

/**
 * A message's context as Strata stores it: without the client's address (`ip`) unless the
 * operator asked to keep it (`STRATA_STORE_IP=1`, docs/api.md). Every place that persists a
 * context — events, profiles, ingestion warnings, imports, the demo — goes through this, so an
 * address is used for the country lookup and then forgotten. The given object is returned as it
 * is when there is nothing to remove, and never changed.
 */
export function storedContext(context: JsonObject, storeIp: boolean): JsonObject {
  if (storeIp || !Object.hasOwn(context, 'ip')) return context;
  const { ip: _dropped, ...rest } = context;
  return rest;
}

/**
 * A raw message as an ingestion warning keeps it (a rejected item of a batch): its `context`
 * through `storedContext`. Anything that is not a message with an object context is kept as it
 * is (there is no address in it to find).
 */
export function storedMessage(message: unknown, storeIp: boolean): unknown {
  if (storeIp || !isPlainObject(message) || !isPlainObject(message.context)) return message;
  const context = storedContext(message.context, false);
  return context === message.context ? message : { ...message, context };
}
