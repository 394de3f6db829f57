/** Segment's `context.campaign` shape, read from `utm_*` query parameters. */
export interface Campaign {
  name?: string;
  source?: string;
  medium?: string;
  term?: string;
  content?: string;
}

const UTM: readonly [string, keyof Campaign][] = [
  ['utm_campaign', 'name'], ['utm_source', 'source'], ['utm_medium', 'medium'], ['utm_term', 'term'], ['utm_content', 'content'],
];

/** The UTM parameters of a query string (`?utm_source=…`) as a Segment campaign; null when there are none. */
export function parseCampaign(search: string): Campaign | null {
  const q = new URLSearchParams(search);
  const c: Campaign = {};
  let any = false;
  for (const [param, field] of UTM) {
    const v = q.get(param);
    if (v) {
      c[field] = v;
      any = true;
    }
  }
  return any ? c : null;
}

export type DeviceType = 'desktop' | 'mobile' | 'tablet';

/** `desktop`, `mobile` or `tablet` from a user agent (the server's visit logic reads `context.device.type` first). */
export function deviceTypeOf(ua: string): DeviceType {
  if (/iPad|Tablet|PlayBook|Silk|Kindle|Android(?!.*Mobile)/i.test(ua)) return 'tablet';
  if (/Mobi|iPhone|iPod|Android|Windows Phone|BlackBerry|Opera Mini/i.test(ua)) return 'mobile';
  return 'desktop';
}

export interface NameVersion { name: string; version?: string }

// Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari", iOS also says "Mac OS X".
const OS: readonly [RegExp, string][] = [
  [/Windows NT ([\d.]+)/, 'Windows'],
  [/(?:iPhone|iPad|iPod)[^)]*? OS ([\d_]+)/, 'iOS'],
  [/Android ([\d.]+)/, 'Android'],
  [/CrOS [^ ]+ ([\d.]+)/, 'Chrome OS'],
  [/Mac OS X ([\d_.]+)/, 'macOS'],
  [/Linux()/, 'Linux'],
];
const BROWSERS: readonly [RegExp, string][] = [
  [/Edg(?:e|A|iOS)?\/([\d.]+)/, 'Microsoft Edge'],
  [/(?:OPR|Opera)\/([\d.]+)/, 'Opera'],
  [/SamsungBrowser\/([\d.]+)/, 'Samsung Internet for Android'],
  [/(?:Firefox|FxiOS)\/([\d.]+)/, 'Firefox'],
  [/(?:Chrome|CriOS)\/([\d.]+)/, 'Chrome'],
  [/Version\/([\d.]+).*Safari\//, 'Safari'],
];

function match(table: readonly [RegExp, string][], ua: string): NameVersion | null {
  for (const [re, name] of table) {
    const m = re.exec(ua);
    if (m) return m[1] ? { name, version: m[1].replace(/_/g, '.') } : { name };
  }
  return null;
}

/** Operating system from a user agent, named as the server's parser (Bowser) names it. */
export const osOf = (ua: string): NameVersion | null => match(OS, ua);
/** Browser from a user agent, named as the server's parser (Bowser) names it. */
export const browserOf = (ua: string): NameVersion | null => match(BROWSERS, ua);
