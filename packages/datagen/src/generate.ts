/**
 * The generator: one independent random stream per user (seed × index), so users can be
 * produced lazily, in any order, and identically on every run.
 *
 * A user is simulated as a sequence of visits. The number of messages is drawn first
 * (log-normal, heavy-tailed, with the requested mean), cut into visits of a few events, and
 * the visits are laid out over the user's active window(s) according to their lifecycle
 * (new / active / churned / resurrected). Inside a visit a small Markov chain walks the shop:
 * landing page → products → add to cart → cart → checkout → purchase, with search, blog,
 * seasonal pages, contact / inquiry and login along the way.
 */
import {
  BLOG_SLUGS,
  CAMPAIGNS,
  COUNTRIES,
  EMAIL_DOMAINS,
  NAMES,
  ORGANIC_REFERRERS,
  PRODUCTS,
  SEARCH_TERMS,
  SITE_NAME,
  SITE_ORIGIN,
  TZ_OFFSET_HOURS,
  type CampaignSpec,
  type CountryInfo,
  type Plan,
} from './catalog.ts';
import { pickDevice, type DeviceProfile } from './devices.ts';
import { Rng, WeightedTable, userRng, uuid } from './rng.ts';
import { DAY, HOUR, MINUTE, toIso, utcMonth } from './time.ts';
import type { BuyerType, GenerateOptions, GeneratedUser, Lifecycle, SegmentMessage, UserMeta } from './types.ts';

// ---------------------------------------------------------------------------------------
// Options

interface Settings {
  readonly seed: number;
  readonly users: number;
  readonly end: number;
  readonly start: number;
  readonly days: number;
  readonly mean: number;
}

function settings(opts: GenerateOptions): Settings {
  const { seed, users, end } = opts;
  const days = opts.days ?? 90;
  const mean = opts.eventsPerUser ?? 10;
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  if (!Number.isSafeInteger(users) || users < 0) throw new RangeError(`users must be a non-negative integer, got ${users}`);
  if (!Number.isFinite(end)) throw new RangeError(`end must be epoch milliseconds, got ${end}`);
  if (!(Number.isFinite(days) && days > 0)) throw new RangeError(`days must be > 0, got ${days}`);
  if (!(Number.isFinite(mean) && mean >= 1)) throw new RangeError(`eventsPerUser must be >= 1, got ${mean}`);
  const endMs = Math.floor(end);
  return { seed, users, end: endMs, start: Math.ceil(endMs - days * DAY), days, mean };
}

// ---------------------------------------------------------------------------------------
// Pages

interface PageDef {
  readonly kind: number;
  readonly path: string;
  /** URL without the query string. */
  readonly url: string;
  readonly title: string;
  /** `page` name. */
  readonly name: string;
  /** `screen` name in the native app. */
  readonly screen: string;
  /** Query string ('' or '?…'). */
  readonly search: string;
  /** Product index for product pages, else -1. */
  readonly product: number;
  readonly slug?: string;
  readonly query?: string;
}

const HOME = 0;
const PRICING = 1;
const PRODUCTS_LIST = 2;
const PRODUCT = 3;
const CART = 4;
const CHECKOUT = 5;
const BLOG = 6;
const BLOG_POST = 7;
const XMAS = 8;
const SUMMER = 9;
const SEARCH = 10;
const CONTACT = 11;
const ACCOUNT = 12;
/** Not a page: the `search` track call (used in the browse tables). */
const SEARCH_ACTION = 100;

function staticPage(kind: number, path: string, name: string, screen: string, title: string): PageDef {
  return { kind, path, url: SITE_ORIGIN + path, title: `${title} | ${SITE_NAME}`, name, screen, search: '', product: -1 };
}

const STATIC_PAGES: readonly PageDef[] = [
  staticPage(HOME, '/', 'Home', 'Home', 'Home'),
  staticPage(PRICING, '/pricing', 'Pricing', 'Pricing', 'Plans & Pricing'),
  staticPage(PRODUCTS_LIST, '/products', 'Products', 'Product List', 'All Products'),
  staticPage(PRODUCT, '/products', 'Product', 'Product Detail', 'Product'), // placeholder, see PRODUCT_PAGES
  staticPage(CART, '/cart', 'Cart', 'Cart', 'Your Cart'),
  staticPage(CHECKOUT, '/checkout', 'Checkout', 'Checkout', 'Checkout'),
  staticPage(BLOG, '/blog', 'Blog', 'Blog', 'Journal'),
  staticPage(BLOG_POST, '/blog', 'Blog Post', 'Article', 'Journal'), // placeholder, see BLOG_PAGES
  staticPage(XMAS, '/seasonal/christmas', 'Christmas', 'Christmas', 'Christmas Gift Shop'),
  staticPage(SUMMER, '/seasonal/summer-sale', 'Summer Sale', 'Summer Sale', 'Summer Sale'),
  staticPage(SEARCH, '/search', 'Search', 'Search Results', 'Search'),
  staticPage(CONTACT, '/contact', 'Contact', 'Contact', 'Contact Us'),
  staticPage(ACCOUNT, '/account', 'Account', 'Account', 'My Account'),
];

const PRODUCT_PAGES: readonly PageDef[] = PRODUCTS.map((p, i) => ({
  kind: PRODUCT,
  path: `/products/${p.id}`,
  url: `${SITE_ORIGIN}/products/${p.id}`,
  title: `${p.name} | ${SITE_NAME}`,
  name: 'Product',
  screen: 'Product Detail',
  search: '',
  product: i,
}));

const BLOG_PAGES: readonly PageDef[] = BLOG_SLUGS.map((slug) => {
  const title = slug
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
  return {
    kind: BLOG_POST,
    path: `/blog/${slug}`,
    url: `${SITE_ORIGIN}/blog/${slug}`,
    title: `${title} | ${SITE_NAME}`,
    name: 'Blog Post',
    screen: 'Article',
    search: '',
    product: -1,
    slug,
  };
});

const SEARCH_PAGES: readonly PageDef[] = SEARCH_TERMS.map((term) => {
  const search = `?q=${encodeURIComponent(term).replace(/%20/g, '+')}`;
  return {
    kind: SEARCH,
    path: '/search',
    url: `${SITE_ORIGIN}/search${search}`,
    title: `Search results for “${term}” | ${SITE_NAME}`,
    name: 'Search',
    screen: 'Search Results',
    search,
    product: -1,
    query: term,
  };
});

const PRODUCT_BY_PATH = new Map(PRODUCT_PAGES.map((p) => [p.path, p]));
const STATIC_BY_PATH = new Map(STATIC_PAGES.filter((p) => p.kind !== PRODUCT && p.kind !== BLOG_POST).map((p) => [p.path, p]));

const POPULAR = new WeightedTable(PRODUCTS.map((p, i) => [i, p.popularity] as const));
const PREMIUM = new WeightedTable(PRODUCTS.map((p, i) => [i, p.popularity * Math.sqrt(p.cents)] as const));
const XMAS_PRODUCTS = PRODUCTS.map((p, i) => [p, i] as const)
  .filter(([p]) => p.category === 'seasonal' || p.category === 'gift' || p.category === 'home')
  .map(([, i]) => i);
const SUMMER_PRODUCTS = PRODUCTS.map((p, i) => [p, i] as const)
  .filter(([p]) => p.category === 'seasonal' || p.category === 'sports' || p.category === 'apparel')
  .map(([, i]) => i);

const LANDING = new WeightedTable<number>([
  [HOME, 40],
  [PRODUCT, 22],
  [PRICING, 9],
  [BLOG_POST, 10],
  [PRODUCTS_LIST, 8],
  [XMAS, 3],
  [SUMMER, 3],
  [CART, 3],
  [ACCOUNT, 2],
]);
const BROWSE = new WeightedTable<number>([
  [PRODUCT, 34],
  [PRODUCTS_LIST, 12],
  [HOME, 8],
  [PRICING, 9],
  [BLOG, 4],
  [BLOG_POST, 6],
  [XMAS, 3],
  [SUMMER, 3],
  [SEARCH_ACTION, 10],
  [CONTACT, 2],
  [ACCOUNT, 2],
  [CART, 3],
]);
const FAVORITES = new WeightedTable<number>([
  [PRICING, 3],
  [PRODUCT, 3],
  [HOME, 2],
  [BLOG, 1],
  [XMAS, 0.5],
  [SUMMER, 0.5],
]);

// ---------------------------------------------------------------------------------------
// Campaigns and referrers

interface CampaignDef {
  readonly spec: CampaignSpec;
  /** `context.campaign` (shared, do not mutate). */
  readonly context: Readonly<Record<string, string>>;
  /** '?utm_source=…' */
  readonly query: string;
  readonly landing: PageDef | null; // null: a random product page
}

const CAMPAIGN_DEFS: readonly CampaignDef[] = CAMPAIGNS.map((spec) => {
  const context: Record<string, string> = { source: spec.source, medium: spec.medium, name: spec.name };
  if (spec.term !== undefined) context.term = spec.term;
  if (spec.content !== undefined) context.content = spec.content;
  const params = [`utm_source=${spec.source}`, `utm_medium=${spec.medium}`, `utm_campaign=${spec.name}`];
  if (spec.term !== undefined) params.push(`utm_term=${encodeURIComponent(spec.term).replace(/%20/g, '+')}`);
  if (spec.content !== undefined) params.push(`utm_content=${spec.content}`);
  const landing = spec.landing === '/products/<id>' ? null : (PRODUCT_BY_PATH.get(spec.landing) ?? STATIC_BY_PATH.get(spec.landing));
  if (landing === undefined) throw new Error(`campaign ${spec.name}: unknown landing ${spec.landing}`);
  return { spec, context, query: `?${params.join('&')}`, landing };
});
const CAMPAIGN_TABLE = new WeightedTable(CAMPAIGN_DEFS.map((c) => [c, c.spec.weight] as const));
const EVERGREEN_TABLE = new WeightedTable(
  CAMPAIGN_DEFS.filter((c) => c.spec.months === undefined).map((c) => [c, c.spec.weight] as const),
);
const REFERRERS = new WeightedTable(ORGANIC_REFERRERS);

// ---------------------------------------------------------------------------------------
// Users: static tables

const COUNTRY_TABLE = new WeightedTable(COUNTRIES.map((c) => [c, c.weight] as const));
const CITY_TABLES = new Map(
  COUNTRIES.map((c) => [c.code, new WeightedTable(c.cities.map((x) => [x, x[2]] as const))] as const),
);
const LOCALE_TABLES = new Map(COUNTRIES.map((c) => [c.code, new WeightedTable(c.locales)] as const));

const LIFECYCLES = new WeightedTable<Lifecycle>([
  ['active', 60],
  ['new', 12],
  ['churned', 22],
  ['resurrected', 6],
]);
const KNOWN_BUYERS = new WeightedTable<BuyerType>([
  ['browser', 45],
  ['abandoner', 17],
  ['buyer', 38],
]);
const ANON_BUYERS = new WeightedTable<BuyerType>([
  ['browser', 75],
  ['abandoner', 25],
]);
const SIGNUP_PLANS = new WeightedTable<Plan>([
  ['free', 72],
  ['basic', 16],
  ['pro', 11],
  ['vip', 1],
]);
const EXISTING_PLANS = new WeightedTable<Plan>([
  ['free', 42],
  ['basic', 27],
  ['pro', 28],
  ['vip', 3],
]);
const LOGIN_METHODS = new WeightedTable<string>([
  ['password', 55],
  ['google', 25],
  ['apple', 12],
  ['magic_link', 8],
]);
const INQUIRY_TOPICS = ['shipping', 'returns', 'sizing', 'order_status', 'wholesale', 'pricing', 'warranty'];

/** Known users' share ("u…" userId with an identify call). */
const KNOWN_SHARE = 0.65;
/** Log-normal shape of the message count: larger = heavier tail. */
const COUNT_SIGMA = 1.2;
/** Cap on a single user's messages, as a multiple of the mean (keeps one user's array small). */
const COUNT_CAP = 60;
/** Visits further apart than this are separate sessions (the spec's default is 30 minutes). */
const SESSION_GAP = 31 * MINUTE;
/** Expected time between two events of a visit, for laying out visits. */
const EST_EVENT_GAP = 50_000;

// Action codes
const A_PAGE = 0;
const A_VIEWED = 1;
const A_CART = 2;
const A_PURCHASE = 3;
const A_LOGIN = 4;
const A_SIGNUP = 5;
const A_INQUIRY = 6;
const A_SEARCH = 7;
const A_IDENTIFY = 8;
const A_UPGRADE = 9;
const A_NONE = -1;

interface Behaviour {
  readonly pCart: number;
  readonly pCheckout: number;
  readonly pBuy: number;
}
const BEHAVIOUR: Readonly<Record<BuyerType, Behaviour>> = {
  browser: { pCart: 0.03, pCheckout: 0.1, pBuy: 0 },
  abandoner: { pCart: 0.4, pCheckout: 0.35, pBuy: 0 },
  buyer: { pCart: 0.35, pCheckout: 0.75, pBuy: 0.8 },
  heavy: { pCart: 0.55, pCheckout: 0.9, pBuy: 0.92 },
};
/** Visits with shopping intent: straight down the funnel (purchase only if the user buys at all). */
const INTENT: Readonly<Record<BuyerType, Behaviour>> = {
  browser: BEHAVIOUR.browser,
  abandoner: { pCart: 0.8, pCheckout: 0.6, pBuy: 0 },
  buyer: { pCart: 0.8, pCheckout: 0.9, pBuy: 0.9 },
  heavy: { pCart: 0.85, pCheckout: 0.95, pBuy: 0.95 },
};
const INTENT_SHARE: Readonly<Record<BuyerType, number>> = { browser: 0, abandoner: 0.25, buyer: 0.45, heavy: 0.6 };

export function userIdFor(index: number): string {
  return 'u' + String(index).padStart(6, '0');
}

// ---------------------------------------------------------------------------------------
// One user

class UserSim {
  private readonly rng: Rng;
  private readonly s: Settings;
  readonly index: number;
  readonly known: boolean;
  readonly userId: string | null;
  readonly anonymousId: string;
  readonly messages: SegmentMessage[] = [];

  private readonly country: CountryInfo;
  private readonly timezone: string;
  /** Local time minus UTC, in ms (standard time). */
  private readonly tzOffset: number;
  private readonly city: string;
  private readonly locale: string;
  private readonly ip: string;
  private readonly dev: DeviceProfile;
  private readonly location: Readonly<Record<string, string>>;
  private readonly currency: string;

  private lifecycle: Lifecycle;
  private buyer: BuyerType;
  private behaviour: Behaviour;
  /** Behaviour of the current visit. */
  private vb: Behaviour = BEHAVIOUR.browser;
  private intent = false;
  private readonly favKind: number;
  private readonly favProduct: number;

  private plan: Plan | null = null;
  private signedUp: boolean | null = null;
  private identified = false;
  private upgraded = false;
  private cart: number[] = []; // [productIndex, quantity, …]
  private purchases = 0;
  private revenueCents = 0;

  // Visit state
  private visitMonth = 0;
  private campaign: CampaignDef | null = null;
  private page: PageDef = STATIC_PAGES[HOME];
  private pageUrl = '';
  private pageSearch = '';
  private pageReferrer = '';
  private pageCtx: Record<string, string> | null = null;
  private last = A_NONE;
  private pending = A_NONE;
  private messageCount = 1;
  private nextPage: PageDef = STATIC_PAGES[HOME];

  constructor(s: Settings, index: number) {
    this.s = s;
    this.index = index;
    const rng = (this.rng = userRng(s.seed, index));
    // The last 12 hex digits carry the index, so ids are unique by construction at any size.
    this.anonymousId = withTail(uuid(rng), index * 2 ** 20);
    this.known = rng.next() < KNOWN_SHARE;
    this.userId = this.known ? userIdFor(index) : null;

    const country = (this.country = COUNTRY_TABLE.sample(rng));
    const city = CITY_TABLES.get(country.code)!.sample(rng);
    this.city = city[0];
    this.timezone = city[1];
    this.tzOffset = (TZ_OFFSET_HOURS[city[1]] ?? 0) * HOUR;
    this.locale = LOCALE_TABLES.get(country.code)!.sample(rng);
    this.currency = country.currency;
    this.location = { country: country.code, city: city[0] };
    this.ip = `${rng.pick(country.ipPrefixes)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
    this.dev = pickDevice(rng, country);

    this.lifecycle = LIFECYCLES.sample(rng);
    this.buyer = (this.known ? KNOWN_BUYERS : ANON_BUYERS).sample(rng);
    this.favKind = rng.next() < 0.35 ? FAVORITES.sample(rng) : -1;
    this.favProduct = POPULAR.sample(rng);
    this.behaviour = BEHAVIOUR[this.buyer];
  }

  /** Draws the message count: heavy-tailed (log-normal) with the requested mean. */
  private drawCount(): number {
    const rng = this.rng;
    const base = this.known ? 2 : 1;
    const extraMean = this.s.mean - base;
    if (extraMean <= 0) return base;
    const z = rng.normal();
    const y = Math.min(extraMean * Math.exp(COUNT_SIGMA * z - (COUNT_SIGMA * COUNT_SIGMA) / 2), COUNT_CAP * this.s.mean);
    return base + Math.floor(y + rng.next()); // stochastic rounding keeps the mean exact
  }

  run(): GeneratedUser {
    const rng = this.rng;
    const s = this.s;
    const n = this.drawCount();

    // Heavy buyers: known users with lots of activity; they get VIP-ish spend.
    let buyer = this.buyer;
    if (this.known && n >= Math.max(12, 1.5 * s.mean) && rng.next() < 0.15) buyer = 'heavy';
    this.buyer = buyer;
    this.behaviour = BEHAVIOUR[buyer];

    // Visits of a few events each.
    const sizes: number[] = [];
    const depth = 0.7 + rng.next() * 1.1;
    for (let rem = n; rem > 0; ) {
      const k = Math.min(rem, 1 + Math.floor(rng.exp() * 3.5 * depth));
      sizes.push(k);
      rem -= k;
    }
    const V = sizes.length;

    // Lifecycle → active windows → planned visit starts.
    let lifecycle = this.lifecycle;
    if (lifecycle === 'resurrected' && (s.days < 46 || V < 2)) lifecycle = 'active';
    if (lifecycle === 'churned' && s.days < 33) lifecycle = 'active';
    this.lifecycle = lifecycle;
    const starts = new Array<number>(V);
    const seps = new Array<number>(V);
    const his = new Array<number>(V);
    const { start, end } = s;
    const recent = Math.max(start, end - 7 * DAY);
    // Room visits [from, to) need to stay separate sessions (the first-seen day is drawn so they fit).
    const need = (from: number, to: number): number => {
      let busy = 0;
      for (let i = from; i < to; i++) busy += (sizes[i] - 1) * EST_EVENT_GAP;
      return busy + (to - from - 1) * 2 * SESSION_GAP + HOUR;
    };
    /** A first-seen instant in [lo, hi − room], or lo when that is empty. */
    const firstSeenIn = (lo: number, hi: number, room: number): number => lo + rng.next() * Math.max(0, hi - room - lo);
    switch (lifecycle) {
      case 'new': {
        const fs = firstSeenIn(recent, end, need(0, V));
        this.layout(sizes, 0, V, fs, end, true, starts, seps, his);
        break;
      }
      case 'churned': {
        const lastOk = end - 31 * DAY;
        const room = need(0, V);
        const fs = firstSeenIn(start, lastOk, Math.max(DAY, room));
        const hi = Math.min(lastOk, fs + Math.max(room, DAY * (1 + rng.exp() * 12)));
        this.layout(sizes, 0, V, fs, hi, true, starts, seps, his);
        break;
      }
      case 'resurrected': {
        const v1 = Math.min(V - 1, Math.max(1, Math.round(V * (0.4 + rng.next() * 0.4))));
        const lastOk = end - 38 * DAY;
        const room = need(0, v1);
        const fs = firstSeenIn(start, lastOk, Math.max(8 * DAY, room));
        const hi = Math.min(lastOk, fs + Math.max(room, DAY * (1 + rng.exp() * 10)));
        this.layout(sizes, 0, v1, fs, hi, true, starts, seps, his);
        this.layout(sizes, v1, V, end - 7 * DAY, end, false, starts, seps, his);
        break;
      }
      default: {
        const fs = firstSeenIn(start, Math.min(recent + need(0, V), end), need(0, V));
        this.layout(sizes, 0, V, fs, end, true, starts, seps, his);
      }
    }

    // Identify: at or after the first visit; preferably in a visit of ≥ 2 events.
    let idVisit = -1;
    let idPos = 1;
    let upgradeVisit = -1;
    if (this.known) {
      // Shoppers log in early (they cannot buy before); others may browse a while first.
      if (sizes[0] >= 2 && rng.next() < (buyer === 'buyer' || buyer === 'heavy' ? 0.85 : 0.55)) idVisit = 0;
      else {
        idVisit = rng.int(0, V - 1);
        for (let t = 0; t < 3 && sizes[idVisit] < 2; t++) idVisit = rng.int(0, V - 1);
      }
      if (sizes[idVisit] >= 2) idPos = rng.int(1, Math.min(3, sizes[idVisit] - 1));
      const signedUp = rng.next() < 0.55;
      this.signedUp = signedUp;
      if (buyer === 'heavy') this.plan = rng.next() < 0.55 ? 'vip' : 'pro';
      else this.plan = (signedUp ? SIGNUP_PLANS : EXISTING_PLANS).sample(rng);
      if ((this.plan === 'free' || this.plan === 'basic') && idVisit < V - 1 && rng.next() < 0.1) {
        upgradeVisit = rng.int(idVisit + 1, V - 1);
      }
    }

    // Walk the visits.
    let prevEnd = -Infinity;
    let firstSeen = 0;
    for (let v = 0; v < V; v++) {
      const k = sizes[v];
      const hi = his[v];
      // Keep the visit start in waking hours, without overtaking the next planned visit.
      let limit = hi - (k - 1) * EST_EVENT_GAP;
      if (v + 1 < V) limit = Math.min(limit, starts[v + 1] - SESSION_GAP - (k - 1) * EST_EVENT_GAP);
      let t = Math.floor(Math.max(this.daytime(starts[v], limit), prevEnd + seps[v]));
      // No room left for a separate session (earlier visits ran long): carry on with the previous visit.
      const merged = v > 0 && (t > hi || t - prevEnd < SESSION_GAP);
      if (merged) t = Math.min(hi, prevEnd + this.gapBefore(A_NONE));
      else this.startVisit(t, v === 0);
      if (v === 0) firstSeen = t;
      for (let j = 0; j < k; j++) {
        let action: number;
        const lastSlot = j === k - 1;
        if (j === 0 && !merged) {
          action = k === 1 && v >= idVisit && idVisit >= 0 && !this.identified ? A_IDENTIFY : A_PAGE;
          this.nextPage = this.page;
        } else if (!this.identified && idVisit >= 0 && v >= idVisit && (lastSlot || (this.pending === A_NONE && (v > idVisit || j >= idPos)))) {
          action = A_IDENTIFY;
        } else if (this.pending !== A_NONE) {
          action = this.pending;
          this.pending = A_NONE;
        } else if (v === upgradeVisit && !this.upgraded && this.identified) {
          action = A_UPGRADE;
        } else {
          action = this.choose(k - j);
        }
        if (j > 0) {
          t += this.gapBefore(action);
          if (t > hi) t = hi;
        }
        this.emit(action, t, j === 0);
      }
      prevEnd = t;
    }

    const msgs = this.messages;
    const lastSeen = prevEnd;
    const meta: UserMeta = {
      lifecycle,
      buyer,
      country: this.country.code,
      region: this.country.region,
      deviceType: this.dev.type,
      app: this.dev.app,
      plan: this.plan,
      signedUp: this.signedUp,
      firstSeen,
      lastSeen,
      purchases: this.purchases,
      revenue: this.revenueCents / 100,
    };
    return { index: this.index, userId: this.userId, anonymousId: this.anonymousId, messages: msgs, meta };
  }

  /**
   * Lays visits [from, to) out over [lo, hi]: the first visit at lo when `anchor`, the
   * remaining room spread over the gaps (and a head / tail) in exponential proportions.
   */
  private layout(
    sizes: readonly number[],
    from: number,
    to: number,
    lo: number,
    hi: number,
    anchor: boolean,
    starts: number[],
    seps: number[],
    his: number[],
  ): void {
    const rng = this.rng;
    const m = to - from;
    let busy = 0;
    for (let i = from; i < to; i++) busy += (sizes[i] - 1) * EST_EVENT_GAP;
    const span = Math.max(0, hi - lo);
    let minGap = SESSION_GAP;
    if (span - busy - (m - 1) * minGap < 0) minGap = Math.max(0, (span - busy) / Math.max(1, m));
    const free = Math.max(0, span - busy - (m - 1) * minGap);
    // weights: [head?] gap_1 … gap_{m-1} tail
    const head = anchor ? 0 : rng.exp();
    let total = head;
    const w = new Array<number>(m);
    for (let i = 1; i < m; i++) total += w[i] = rng.exp();
    const tail = rng.exp() * (anchor ? 1 : 0.5);
    total += tail;
    let t = lo + (total > 0 ? (head / total) * free : 0);
    for (let i = 0; i < m; i++) {
      if (i > 0) t += (sizes[from + i - 1] - 1) * EST_EVENT_GAP + minGap + (w[i] / total) * free;
      starts[from + i] = t;
      seps[from + i] = minGap;
      his[from + i] = Math.floor(hi);
    }
  }

  /**
   * Moves most visits planned for the small hours (local 01:00–07:00) to the morning, unless
   * that would pass `limit`.
   */
  private daytime(t: number, limit: number): number {
    const local = t + this.tzOffset;
    const hour = (((local % DAY) + DAY) % DAY) / HOUR;
    if (hour < 1 || hour >= 7 || this.rng.next() < 0.15) return t;
    const moved = t + (7 - hour) * HOUR + this.rng.next() * 4 * HOUR;
    return moved <= limit ? moved : t;
  }

  /** Milliseconds between the previous event of the visit and `action`. */
  private gapBefore(action: number): number {
    const rng = this.rng;
    switch (action) {
      case A_VIEWED:
        return 150 + Math.floor(rng.next() * 1350);
      case A_SIGNUP:
      case A_LOGIN:
      case A_UPGRADE:
        return 300 + Math.floor(rng.next() * 2200);
      case A_PAGE:
        if (this.last === A_SEARCH) return 300 + Math.floor(rng.next() * 900);
        break;
      default:
        break;
    }
    return Math.min(10 * MINUTE, 2500 + Math.floor(rng.exp() * 37_000));
  }

  // ---- visit logic

  private startVisit(t: number, first: boolean): void {
    const rng = this.rng;
    this.visitMonth = utcMonth(t);
    this.last = A_NONE;
    this.pending = A_NONE;
    this.intent = rng.next() < INTENT_SHARE[this.buyer];
    this.vb = this.intent ? INTENT[this.buyer] : this.behaviour;
    let campaign: CampaignDef | null = null;
    if (rng.next() < (first ? 0.35 : 0.2)) {
      campaign = CAMPAIGN_TABLE.sample(rng);
      const months = campaign.spec.months;
      if (months !== undefined && !months.includes(this.visitMonth)) campaign = EVERGREEN_TABLE.sample(rng);
      if (campaign.spec.landing === '/cart' && this.cart.length === 0) campaign = null;
    }
    this.campaign = campaign;
    let page: PageDef;
    if (campaign !== null) {
      page = campaign.landing ?? this.productPage();
      this.pageReferrer = campaign.spec.referrer;
    } else if (this.cart.length > 0 && this.identified && this.behaviour.pBuy > 0 && rng.next() < (this.intent ? 0.7 : 0.3)) {
      page = STATIC_PAGES[CART]; // back to finish the order
      this.pageReferrer = '';
    } else {
      page = this.favKind >= 0 && rng.next() < 0.5 ? this.resolve(this.favKind) : this.resolve(LANDING.sample(rng));
      this.pageReferrer = REFERRERS.sample(rng);
    }
    this.page = page;
    this.pageSearch = campaign !== null ? campaign.query : page.search;
    this.pageUrl = campaign !== null ? page.url + campaign.query : page.url;
    this.pageCtx = null;
  }

  private productPage(): PageDef {
    const rng = this.rng;
    const r = rng.next();
    if (r < 0.25) return PRODUCT_PAGES[this.favProduct];
    return PRODUCT_PAGES[(this.buyer === 'heavy' ? PREMIUM : POPULAR).sample(rng)];
  }

  /** Page kind → a concrete page (with seasonal pages damped out of season). */
  private resolve(kind: number): PageDef {
    const rng = this.rng;
    switch (kind) {
      case PRODUCT:
        return this.productPage();
      case BLOG_POST:
        return rng.pick(BLOG_PAGES);
      case SEARCH:
        return rng.pick(SEARCH_PAGES);
      case XMAS:
        if (this.visitMonth >= 10 || rng.next() < 0.2) return STATIC_PAGES[XMAS];
        return this.productPage();
      case SUMMER:
        if ((this.visitMonth >= 5 && this.visitMonth <= 7) || rng.next() < 0.2) return STATIC_PAGES[SUMMER];
        return this.productPage();
      case CART:
        return this.cart.length > 0 ? STATIC_PAGES[CART] : STATIC_PAGES[PRODUCTS_LIST];
      case ACCOUNT:
        return this.identified ? STATIC_PAGES[ACCOUNT] : STATIC_PAGES[HOME];
      default:
        return STATIC_PAGES[kind];
    }
  }

  private goPage(kind: number): number {
    this.nextPage = this.resolve(kind);
    return A_PAGE;
  }

  private browse(): number {
    const rng = this.rng;
    if (this.intent && rng.next() < 0.6) return this.goPage(PRODUCT);
    if (this.favKind >= 0 && rng.next() < 0.2) return this.goPage(this.favKind);
    const kind = BROWSE.sample(rng);
    if (kind === SEARCH_ACTION) return A_SEARCH;
    return this.goPage(kind);
  }

  /** The next action of a visit with `remaining` slots left (including this one). */
  private choose(remaining: number): number {
    const rng = this.rng;
    const b = this.vb;
    const kind = this.page.kind;
    const canBuy = this.identified && b.pBuy > 0;
    if (
      canBuy &&
      remaining <= 4 &&
      this.cart.length > 0 &&
      kind !== CART &&
      kind !== CHECKOUT &&
      this.last !== A_PURCHASE &&
      rng.next() < 0.8
    ) {
      return this.goPage(CART);
    }
    const r = rng.next();
    switch (this.last) {
      case A_VIEWED:
        if (r < b.pCart && this.cart.length < 12) return A_CART;
        if (r < 0.5) return this.goPage(PRODUCT);
        return this.browse();
      case A_CART:
        if (r < (this.intent ? 0.85 : 0.55)) return this.goPage(CART);
        if (r < 0.8) return this.goPage(PRODUCT);
        return this.browse();
      case A_PURCHASE:
        if (r < 0.4) return this.goPage(ACCOUNT);
        return this.browse();
      case A_IDENTIFY:
      case A_SIGNUP:
      case A_LOGIN:
      case A_UPGRADE:
        if (r < 0.25) return this.goPage(ACCOUNT);
        return this.browse();
      case A_INQUIRY:
        return this.browse();
      default:
        break;
    }
    switch (kind) {
      case PRODUCT:
        if (r < 0.4) return this.goPage(PRODUCT);
        return this.browse();
      case PRODUCTS_LIST:
        if (r < 0.7) return this.goPage(PRODUCT);
        return this.browse();
      case CART:
        if (this.cart.length > 0 && r < b.pCheckout) return this.goPage(CHECKOUT);
        if (r < 0.6) return this.goPage(PRODUCT);
        return this.browse();
      case CHECKOUT:
        if (this.cart.length > 0 && canBuy && r < b.pBuy) return A_PURCHASE;
        if (r < 0.3) return this.goPage(CART);
        return this.browse();
      case SEARCH:
        if (r < 0.65) return this.goPage(PRODUCT);
        if (r < 0.8) return A_SEARCH;
        return this.browse();
      case BLOG:
      case BLOG_POST:
        if (r < 0.3) return this.goPage(BLOG_POST);
        if (r < 0.6) return this.goPage(PRODUCT);
        return this.browse();
      case XMAS:
        if (r < 0.6) {
          this.nextPage = PRODUCT_PAGES[rng.pick(XMAS_PRODUCTS)];
          return A_PAGE;
        }
        return this.browse();
      case SUMMER:
        if (r < 0.6) {
          this.nextPage = PRODUCT_PAGES[rng.pick(SUMMER_PRODUCTS)];
          return A_PAGE;
        }
        return this.browse();
      default:
        return this.browse();
    }
  }

  // ---- messages

  private emit(action: number, t: number, visitStart: boolean): void {
    const rng = this.rng;
    switch (action) {
      case A_PAGE: {
        if (!visitStart) {
          const p = this.nextPage;
          this.pageReferrer = this.pageUrl;
          this.page = p;
          this.pageUrl = p.url;
          this.pageSearch = p.search;
        }
        this.pageCtx = null;
        this.pagePush(t);
        const kind = this.page.kind;
        if (kind === PRODUCT && rng.next() < 0.92) this.pending = A_VIEWED;
        else if (kind === CONTACT && this.identified && rng.next() < 0.7) this.pending = A_INQUIRY;
        else if (visitStart && this.identified && rng.next() < 0.2) this.pending = A_LOGIN;
        break;
      }
      case A_VIEWED: {
        const p = PRODUCTS[this.page.product];
        this.track(t, 'Product Viewed', {
          product_id: p.id,
          sku: p.sku,
          name: p.name,
          category: p.category,
          price: p.cents / 100,
          currency: this.currency,
        });
        break;
      }
      case A_CART: {
        const idx = this.page.product;
        const p = PRODUCTS[idx];
        const heavy = this.buyer === 'heavy';
        const quantity = heavy ? rng.int(1, 3) : rng.next() < 0.9 ? 1 : 2;
        this.cart.push(idx, quantity);
        this.track(t, 'add_to_cart', {
          product_id: p.id,
          sku: p.sku,
          name: p.name,
          category: p.category,
          price: p.cents / 100,
          quantity,
          currency: this.currency,
        });
        break;
      }
      case A_PURCHASE: {
        const cart = this.cart;
        const items: Record<string, unknown>[] = [];
        let cents = 0;
        for (let i = 0; i < cart.length; i += 2) {
          const p = PRODUCTS[cart[i]];
          const quantity = cart[i + 1];
          cents += p.cents * quantity;
          items.push({ product_id: p.id, sku: p.sku, name: p.name, category: p.category, price: p.cents / 100, quantity });
        }
        this.cart = [];
        this.purchases++;
        this.revenueCents += cents;
        this.track(t, 'purchase', {
          orderId: `ord_${this.index.toString(36)}_${this.purchases}`,
          revenue: cents / 100,
          currency: this.currency,
          items,
        });
        break;
      }
      case A_SEARCH: {
        const next = rng.pick(SEARCH_PAGES);
        this.track(t, 'search', { query: next.query });
        this.nextPage = next;
        this.pending = A_PAGE;
        break;
      }
      case A_LOGIN:
        this.track(t, 'login', { method: LOGIN_METHODS.sample(rng) });
        break;
      case A_SIGNUP:
        this.track(t, 'signed_up', { method: rng.next() < 0.7 ? 'email' : 'google', plan: this.plan });
        break;
      case A_INQUIRY:
        this.track(t, 'inquiry', { topic: rng.pick(INQUIRY_TOPICS), channel: 'contact_form' });
        break;
      case A_IDENTIFY: {
        this.identified = true;
        this.identify(t, this.traits(t));
        this.pending = this.signedUp ? A_SIGNUP : A_LOGIN;
        break;
      }
      case A_UPGRADE: {
        this.upgraded = true;
        this.plan = this.plan === 'free' && rng.next() < 0.6 ? 'basic' : 'pro';
        this.identify(t, { plan: this.plan, planChangedAt: toIso(t) });
        break;
      }
      default:
        throw new Error(`unknown action ${action}`);
    }
    this.last = action;
  }

  private traits(t: number): Record<string, unknown> {
    const rng = this.rng;
    const group = NAMES[this.country.names];
    const firstName = rng.pick(group.first);
    const lastName = rng.pick(group.last);
    const name = group.familyFirst ? `${lastName} ${firstName}` : `${firstName} ${lastName}`;
    const email = `${firstName}.${lastName}${this.index}@${rng.pick(EMAIL_DOMAINS)}`.toLowerCase();
    const createdAt = this.signedUp ? t : this.s.start - Math.floor((1 + rng.next() * 900) * DAY);
    return {
      email,
      name,
      firstName,
      lastName,
      plan: this.plan,
      createdAt: toIso(createdAt),
      country: this.country.code,
      city: this.city,
      marketingOptIn: rng.next() < 0.45,
    };
  }

  private context(): Record<string, unknown> {
    const d = this.dev;
    const campaign = this.campaign;
    this.campaign = null;
    // One shape per kind of client, keys in a fixed order (the campaign only on a visit's first event).
    const ctx: Record<string, unknown> = {
      ip: this.ip, locale: this.locale, timezone: this.timezone, userAgent: d.userAgent, device: d.device, os: d.os,
    };
    if (!d.app) ctx.browser = d.browser;
    ctx.screen = d.screen;
    ctx.location = this.location;
    if (d.app) ctx.app = d.appInfo;
    if (campaign !== null) ctx.campaign = campaign.context;
    if (!d.app) {
      if (this.pageCtx === null) {
        const p = this.page;
        this.pageCtx = { path: p.path, referrer: this.pageReferrer, search: this.pageSearch, title: p.title, url: this.pageUrl };
      }
      ctx.page = this.pageCtx;
    }
    ctx.library = d.library;
    return ctx;
  }

  private pagePush(t: number): void {
    const p = this.page;
    const context = this.context();
    const messageId = withTail(uuid(this.rng), this.index * 2 ** 20 + (this.messageCount++ % 2 ** 20));
    const timestamp = toIso(t);
    if (this.dev.app) {
      const properties: Record<string, unknown> =
        p.kind === PRODUCT
          ? { product_id: PRODUCTS[p.product].id }
          : p.kind === SEARCH
            ? { query: p.query }
            : p.kind === BLOG_POST
              ? { slug: p.slug }
              : {};
      this.messages.push(
        this.identified
          ? { type: 'screen', messageId, userId: this.userId!, anonymousId: this.anonymousId, timestamp, name: p.screen, properties, context }
          : { type: 'screen', messageId, anonymousId: this.anonymousId, timestamp, name: p.screen, properties, context },
      );
      return;
    }
    const properties = {
      path: p.path,
      url: this.pageUrl,
      title: p.title,
      referrer: this.pageReferrer,
      search: this.pageSearch,
    };
    this.messages.push(
      this.identified
        ? { type: 'page', messageId, userId: this.userId!, anonymousId: this.anonymousId, timestamp, name: p.name, properties, context }
        : { type: 'page', messageId, anonymousId: this.anonymousId, timestamp, name: p.name, properties, context },
    );
  }

  private track(t: number, event: string, properties: Record<string, unknown>): void {
    const context = this.context();
    const messageId = withTail(uuid(this.rng), this.index * 2 ** 20 + (this.messageCount++ % 2 ** 20));
    const timestamp = toIso(t);
    this.messages.push(
      this.identified
        ? { type: 'track', messageId, userId: this.userId!, anonymousId: this.anonymousId, timestamp, event, properties, context }
        : { type: 'track', messageId, anonymousId: this.anonymousId, timestamp, event, properties, context },
    );
  }

  private identify(t: number, traits: Record<string, unknown>): void {
    const context = this.context();
    this.messages.push({
      type: 'identify',
      messageId: withTail(uuid(this.rng), this.index * 2 ** 20 + (this.messageCount++ % 2 ** 20)),
      userId: this.userId!,
      anonymousId: this.anonymousId,
      timestamp: toIso(t),
      traits,
      context,
    });
  }
}

// ---------------------------------------------------------------------------------------
// Public entry points

/** One user of the dataset, by index (random access; same result as the index-th item of `generateUsers`). */
export function generateUser(opts: GenerateOptions, index: number): GeneratedUser {
  const s = settings(opts);
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`index must be a non-negative integer, got ${index}`);
  return new UserSim(s, index).run();
}

/** Users 0 … users−1 with their messages, lazily (constant memory apart from the current user). */
export function* generateUsers(opts: GenerateOptions): Generator<GeneratedUser> {
  const s = settings(opts);
  for (let i = 0; i < s.users; i++) yield new UserSim(s, i).run();
}

/**
 * Messages of consecutive users chunked into arrays of at most `batchSize` items (a Segment
 * `/v1/batch` body's `batch`), each user's messages in timestamp order. Users may span
 * batches. Every batch but the last is full.
 */
export function* generateBatches(opts: GenerateOptions, batchSize: number): Generator<SegmentMessage[]> {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  let batch: SegmentMessage[] = [];
  for (const user of generateUsers(opts)) {
    const msgs = user.messages;
    for (let i = 0; i < msgs.length; i++) {
      batch.push(msgs[i]);
      if (batch.length === batchSize) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield batch;
}

/** Every message of the dataset, one at a time, users in index order. */
export function* generateMessages(opts: GenerateOptions): Generator<SegmentMessage> {
  for (const user of generateUsers(opts)) yield* user.messages;
}

/** Replaces the last 12 hex digits of a uuid with `n` (< 2^48). */
function withTail(id: string, n: number): string {
  return id.slice(0, -12) + n.toString(16).padStart(12, '0');
}
