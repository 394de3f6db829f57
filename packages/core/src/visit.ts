import Bowser from 'bowser';
import type { Json, JsonObject } from './data.ts';
import { isPlainObject } from './values.ts';

const str = (v: Json | undefined): string | null => (typeof v === 'string' && v !== '' ? v : null);
const obj = (v: Json | undefined): JsonObject => (isPlainObject(v) ? v : {});

function hostOf(url: string | null): string | null {
  if (!url) return null;
  try {
    return new URL(url).host || null;
  } catch {
    return null;
  }
}

interface ParsedAgent { readonly platform: string | null; readonly os: string | null; readonly browser: string | null }
const agents = new Map<string, ParsedAgent>();

/** User-agent parsing is costly and a few agents cover most traffic: keep recent results. */
function parseAgent(ua: string): ParsedAgent {
  let a = agents.get(ua);
  if (!a) {
    const r = Bowser.parse(ua);
    a = { platform: r.platform.type ?? null, os: r.os.name ?? null, browser: r.browser.name ?? null };
    if (agents.size >= 5000) agents.clear();
    agents.set(ua, a);
  }
  return a;
}

/** The query of a URL (relative ones too), or null when there is none or it does not parse. */
function queryOf(url: string | null): URLSearchParams | null {
  if (!url) return null;
  try {
    return new URL(url, 'http://x.invalid').searchParams;
  } catch {
    return null;
  }
}

/** `desktop`, `mobile` or `tablet` from a Segment `context.device.type` or a user agent. */
export function deviceTypeOf(deviceType: string | null, userAgent: string | null): 'desktop' | 'mobile' | 'tablet' | null {
  const t = deviceType?.toLowerCase() ?? null;
  if (t === 'mobile' || t === 'phone' || t === 'ios' || t === 'android') return 'mobile';
  if (t === 'tablet' || t === 'ipad') return 'tablet';
  if (t === 'desktop' || t === 'web' || t === 'macos' || t === 'windows' || t === 'linux') return 'desktop';
  if (!userAgent) return null;
  const platform = parseAgent(userAgent).platform;
  if (platform === 'mobile' || platform === 'tablet') return platform;
  return 'desktop';
}

/**
 * Visit attributes of the event that starts a visit (`$session`, docs/reference.md §2): landing page,
 * referrer, UTM parameters (from `context.campaign`, else from the page URL), device, OS,
 * browser, locale, country.
 */
export function visitOf(type: string, properties: JsonObject, context: JsonObject): JsonObject {
  const page = obj(context.page);
  const isPage = type === 'page';
  const url = (isPage ? str(properties.url) : null) ?? str(page.url);
  const path = (isPage ? str(properties.path) : null) ?? str(page.path) ?? (url ? safePath(url) : null);
  const referrer = (isPage ? str(properties.referrer) : null) ?? str(page.referrer);
  const campaign = obj(context.campaign);
  const ua = str(context.userAgent);
  const parsed = ua ? parseAgent(ua) : null;
  // The page URL is parsed once, and only when a UTM field is missing from the campaign.
  let query: URLSearchParams | null | undefined;
  const utm = (key: string, field: string) => str(campaign[field]) ?? (query === undefined ? (query = queryOf(url)) : query)?.get(key) ?? null;
  const out: JsonObject = {
    landingPage: path,
    referrer,
    referrerHost: hostOf(referrer),
    utm_source: utm('utm_source', 'source'),
    utm_medium: utm('utm_medium', 'medium'),
    utm_campaign: utm('utm_campaign', 'name'),
    utm_term: utm('utm_term', 'term'),
    utm_content: utm('utm_content', 'content'),
    deviceType: deviceTypeOf(str(obj(context.device).type), ua),
    os: str(obj(context.os).name) ?? parsed?.os ?? null,
    browser: parsed?.browser ?? null,
    locale: str(context.locale),
    country: str(obj(context.location).country),
  };
  for (const k of Object.keys(out)) if (out[k] === null) delete out[k];
  return out;
}

function safePath(url: string): string | null {
  try {
    return new URL(url).pathname;
  } catch {
    return null;
  }
}
