/**
 * @strata/datagen — deterministic, seeded, streaming generator of realistic users and their
 * Segment-spec messages (identify / track / page / screen). Pure: no I/O, no clock, no
 * Math.random().
 */
export { generateUsers, generateUser, generateBatches, generateMessages, userIdFor } from './generate.ts';
export type {
  GenerateOptions,
  GeneratedUser,
  SegmentMessage,
  UserMeta,
  Lifecycle,
  BuyerType,
} from './types.ts';
export { createRng, userRng, Rng, WeightedTable, mix32, uuid, type Random } from './rng.ts';
export {
  COUNTRIES,
  COUNTRY_WEIGHTS,
  COUNTRY_BY_CODE,
  REGION_COUNTRIES,
  NAMES,
  PRODUCTS,
  BLOG_SLUGS,
  SEARCH_TERMS,
  PLANS,
  TRACK_EVENTS,
  PAGE_PATHS,
  CAMPAIGNS,
  ORGANIC_REFERRERS,
  SITE_ORIGIN,
  SITE_NAME,
  type CountryInfo,
  type Region,
  type Currency,
  type NameGroup,
  type Plan,
  type Product,
  type TrackEvent,
  type CampaignSpec,
} from './catalog.ts';
export { pickDevice, type DeviceProfile, type DeviceType, type OsName } from './devices.ts';
export { toIso, DAY, HOUR, MINUTE, SECOND } from './time.ts';
