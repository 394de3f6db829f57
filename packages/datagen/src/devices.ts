/**
 * Devices: device type → operating system → browser → a user-agent string that says the
 * same thing, plus screen size, manufacturer and model. One profile per generated user.
 */
import type { CountryInfo } from './catalog.ts';
import { WeightedTable, type Random } from './rng.ts';

export type DeviceType = 'desktop' | 'mobile' | 'tablet';
export type OsName = 'Windows' | 'macOS' | 'Linux' | 'iOS' | 'Android';

export interface DeviceProfile {
  readonly type: DeviceType;
  /** `context.device` */
  readonly device: { readonly type: DeviceType; readonly manufacturer?: string; readonly model?: string };
  /** `context.os` */
  readonly os: { readonly name: OsName; readonly version: string };
  /** `context.browser` (web only; the native app has none). */
  readonly browser: { readonly name: string; readonly version: string } | null;
  readonly userAgent: string;
  /** `context.screen` */
  readonly screen: { readonly width: number; readonly height: number; readonly density: number };
  /** Uses the native mobile app (sends `screen` calls) instead of the web site. */
  readonly app: boolean;
  /** `context.library` */
  readonly library: { readonly name: string; readonly version: string };
  /** `context.app` for native app users. */
  readonly appInfo: { readonly name: string; readonly version: string; readonly build: string; readonly namespace: string } | null;
}

const CHROME_VERSIONS = [124, 125, 126, 127, 128, 129, 130, 131];
const FIREFOX_VERSIONS = [125, 126, 127, 128, 129, 130, 131, 132];
const SAFARI_VERSIONS = ['17.4', '17.5', '17.6', '18.0', '18.1'];
const IOS_VERSIONS = ['16.7.10', '17.4.1', '17.5.1', '17.6.1', '18.0.1', '18.1'];
const ANDROID_VERSIONS: readonly (readonly [string, number])[] = [['11', 8], ['12', 12], ['13', 25], ['14', 40], ['15', 15]];
const MACOS_VERSIONS = ['13.6.7', '14.5', '14.6.1', '15.0.1', '15.1'];
const WINDOWS_VERSIONS: readonly (readonly [string, number])[] = [['10', 55], ['11', 45]];
const LINUX_VERSIONS = ['6.5', '6.8', '6.11'];

const DESKTOP_SCREENS = new WeightedTable<readonly [number, number, number]>([
  [[1920, 1080, 1], 34],
  [[1366, 768, 1], 10],
  [[1536, 864, 1.25], 12],
  [[2560, 1440, 1], 10],
  [[1440, 900, 2], 6],
  [[1280, 720, 1], 4],
  [[1600, 900, 1], 5],
  [[1680, 1050, 1], 3],
  [[3840, 2160, 1.5], 4],
]);
const MAC_SCREENS = new WeightedTable<readonly [number, number, number]>([
  [[1440, 900, 2], 25],
  [[1512, 982, 2], 25],
  [[1728, 1117, 2], 15],
  [[1470, 956, 2], 15],
  [[2560, 1440, 1], 10],
  [[1920, 1080, 1], 10],
]);

interface Handset {
  readonly manufacturer: string;
  readonly model: string;
  /** Model code as it appears in Android user agents. */
  readonly code: string;
  readonly w: number;
  readonly h: number;
  readonly density: number;
}

const IPHONES: readonly Handset[] = [
  { manufacturer: 'Apple', model: 'iPhone 13', code: 'iPhone14,5', w: 390, h: 844, density: 3 },
  { manufacturer: 'Apple', model: 'iPhone 14', code: 'iPhone14,7', w: 390, h: 844, density: 3 },
  { manufacturer: 'Apple', model: 'iPhone 15', code: 'iPhone15,4', w: 393, h: 852, density: 3 },
  { manufacturer: 'Apple', model: 'iPhone 15 Pro', code: 'iPhone16,1', w: 393, h: 852, density: 3 },
  { manufacturer: 'Apple', model: 'iPhone 15 Pro Max', code: 'iPhone16,2', w: 430, h: 932, density: 3 },
  { manufacturer: 'Apple', model: 'iPhone 16', code: 'iPhone17,3', w: 393, h: 852, density: 3 },
  { manufacturer: 'Apple', model: 'iPhone 16 Pro', code: 'iPhone17,1', w: 402, h: 874, density: 3 },
  { manufacturer: 'Apple', model: 'iPhone SE', code: 'iPhone14,6', w: 375, h: 667, density: 2 },
];
const IPADS: readonly Handset[] = [
  { manufacturer: 'Apple', model: 'iPad (10th generation)', code: 'iPad13,18', w: 820, h: 1180, density: 2 },
  { manufacturer: 'Apple', model: 'iPad Air', code: 'iPad13,16', w: 820, h: 1180, density: 2 },
  { manufacturer: 'Apple', model: 'iPad Pro 11-inch', code: 'iPad14,3', w: 834, h: 1194, density: 2 },
  { manufacturer: 'Apple', model: 'iPad Pro 12.9-inch', code: 'iPad14,5', w: 1024, h: 1366, density: 2 },
];
const ANDROID_PHONES: readonly Handset[] = [
  { manufacturer: 'Samsung', model: 'Galaxy S24', code: 'SM-S921B', w: 384, h: 832, density: 3 },
  { manufacturer: 'Samsung', model: 'Galaxy S23', code: 'SM-S911B', w: 360, h: 780, density: 3 },
  { manufacturer: 'Samsung', model: 'Galaxy A54', code: 'SM-A546B', w: 384, h: 854, density: 2.8125 },
  { manufacturer: 'Samsung', model: 'Galaxy A15', code: 'SM-A155F', w: 384, h: 832, density: 2.8125 },
  { manufacturer: 'Google', model: 'Pixel 8', code: 'Pixel 8', w: 412, h: 915, density: 2.625 },
  { manufacturer: 'Google', model: 'Pixel 7a', code: 'Pixel 7a', w: 412, h: 892, density: 2.625 },
  { manufacturer: 'Xiaomi', model: 'Redmi Note 13', code: '23129RAA4G', w: 393, h: 873, density: 2.75 },
  { manufacturer: 'Xiaomi', model: 'Xiaomi 14', code: '23127PN0CG', w: 393, h: 873, density: 3 },
  { manufacturer: 'OnePlus', model: 'OnePlus 12', code: 'CPH2581', w: 412, h: 915, density: 3.5 },
  { manufacturer: 'OPPO', model: 'Reno11', code: 'CPH2599', w: 412, h: 915, density: 2.625 },
  { manufacturer: 'vivo', model: 'X100', code: 'V2309', w: 412, h: 915, density: 3 },
  { manufacturer: 'HUAWEI', model: 'P60 Pro', code: 'MNA-AL00', w: 412, h: 915, density: 3 },
  { manufacturer: 'HUAWEI', model: 'Mate 60', code: 'BRA-AL00', w: 412, h: 915, density: 3 },
];
const ANDROID_PHONE_WEIGHTS: readonly number[] = [14, 12, 12, 10, 6, 4, 10, 5, 3, 4, 4, 3, 3];
/** China: more Xiaomi / HUAWEI / OPPO / vivo, fewer Samsung / Pixel. */
const ANDROID_PHONE_WEIGHTS_CN: readonly number[] = [3, 2, 1, 1, 0, 0, 14, 12, 3, 10, 10, 14, 12];
const ANDROID_TABLETS: readonly Handset[] = [
  { manufacturer: 'Samsung', model: 'Galaxy Tab S9', code: 'SM-X710', w: 800, h: 1280, density: 2 },
  { manufacturer: 'Samsung', model: 'Galaxy Tab A9+', code: 'SM-X210', w: 800, h: 1280, density: 1.5 },
  { manufacturer: 'Lenovo', model: 'Tab P11', code: 'TB-J606F', w: 800, h: 1280, density: 1.5 },
  { manufacturer: 'Xiaomi', model: 'Pad 6', code: '23043RP34G', w: 800, h: 1280, density: 2.2 },
];

const PHONES_WORLD = new WeightedTable(ANDROID_PHONES.map((p, i) => [p, ANDROID_PHONE_WEIGHTS[i]] as const));
const PHONES_CN = new WeightedTable(ANDROID_PHONES.map((p, i) => [p, ANDROID_PHONE_WEIGHTS_CN[i]] as const));

const WEB_LIBRARY_VERSIONS = ['next-1.70.0', 'next-1.72.0', 'next-1.74.0', 'next-1.76.1', '4.16.1'];
const IOS_LIBRARY = { name: 'analytics-ios', version: '4.1.8' } as const;
const ANDROID_LIBRARY = { name: 'analytics-android', version: '4.11.3' } as const;
const APP_VERSIONS: readonly (readonly [string, string])[] = [['5.4.0', '540'], ['5.4.1', '541'], ['5.5.0', '550'], ['5.6.0', '560']];

/** Share of handheld users who use the native app rather than the mobile web site. */
const APP_SHARE = 0.12;

const WIN_BROWSERS = new WeightedTable<string>([['Chrome', 66], ['Edge', 22], ['Firefox', 9], ['Opera', 3]]);
const MAC_BROWSERS = new WeightedTable<string>([['Safari', 48], ['Chrome', 44], ['Firefox', 5], ['Edge', 3]]);
const LINUX_BROWSERS = new WeightedTable<string>([['Chrome', 62], ['Firefox', 38]]);
const IOS_BROWSERS = new WeightedTable<string>([['Mobile Safari', 86], ['Chrome', 12], ['Firefox', 2]]);
const ANDROID_BROWSERS = new WeightedTable<string>([['Chrome', 78], ['Samsung Internet', 14], ['Firefox', 3], ['Opera', 5]]);

function chromeUa(platform: string, v: number, mobile: boolean): string {
  return `Mozilla/5.0 (${platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 ${mobile ? 'Mobile ' : ''}Safari/537.36`;
}

/** Draws the device of one user; `country` shapes the mobile share, iOS share and Android brands. */
export function pickDevice(rng: Random, country: CountryInfo): DeviceProfile {
  const handheld = rng.next() < country.mobile;
  const type: DeviceType = handheld ? (rng.next() < 0.15 ? 'tablet' : 'mobile') : 'desktop';
  const libraryVersion = rng.pick(WEB_LIBRARY_VERSIONS);
  const webLibrary = { name: 'analytics.js', version: libraryVersion };

  if (type === 'desktop') {
    const r = rng.next();
    const macShare = 0.12 + 0.3 * country.ios;
    if (r < macShare) {
      const osVersion = rng.pick(MACOS_VERSIONS);
      const browserName = MAC_BROWSERS.sample(rng);
      const platform = 'Macintosh; Intel Mac OS X 10_15_7';
      let version: string;
      let ua: string;
      if (browserName === 'Safari') {
        version = rng.pick(SAFARI_VERSIONS);
        ua = `Mozilla/5.0 (${platform}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${version} Safari/605.1.15`;
      } else if (browserName === 'Firefox') {
        const v = rng.pick(FIREFOX_VERSIONS);
        version = `${v}.0`;
        ua = `Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:${v}.0) Gecko/20100101 Firefox/${v}.0`;
      } else {
        const v = rng.pick(CHROME_VERSIONS);
        version = `${v}.0.0.0`;
        ua = chromeUa(platform, v, false) + (browserName === 'Edge' ? ` Edg/${v}.0.0.0` : '');
      }
      const [width, height, density] = MAC_SCREENS.sample(rng);
      return {
        type,
        device: { type, manufacturer: 'Apple', model: 'Macintosh' },
        os: { name: 'macOS', version: osVersion },
        browser: { name: browserName, version },
        userAgent: ua,
        screen: { width, height, density },
        app: false,
        library: webLibrary,
        appInfo: null,
      };
    }
    const linux = r > 1 - 0.04;
    const osName: OsName = linux ? 'Linux' : 'Windows';
    const osVersion = linux ? rng.pick(LINUX_VERSIONS) : rng.weighted(WINDOWS_VERSIONS);
    const browserName = (linux ? LINUX_BROWSERS : WIN_BROWSERS).sample(rng);
    const platform = linux ? 'X11; Linux x86_64' : 'Windows NT 10.0; Win64; x64';
    let version: string;
    let ua: string;
    if (browserName === 'Firefox') {
      const v = rng.pick(FIREFOX_VERSIONS);
      version = `${v}.0`;
      ua = `Mozilla/5.0 (${platform}; rv:${v}.0) Gecko/20100101 Firefox/${v}.0`;
    } else {
      const v = rng.pick(CHROME_VERSIONS);
      version = browserName === 'Opera' ? `${v - 14}.0.0.0` : `${v}.0.0.0`;
      ua = chromeUa(platform, v, false);
      if (browserName === 'Edge') ua += ` Edg/${v}.0.0.0`;
      else if (browserName === 'Opera') ua += ` OPR/${v - 14}.0.0.0`;
    }
    const [width, height, density] = DESKTOP_SCREENS.sample(rng);
    return {
      type,
      device: { type },
      os: { name: osName, version: osVersion },
      browser: { name: browserName, version },
      userAgent: ua,
      screen: { width, height, density },
      app: false,
      library: webLibrary,
      appInfo: null,
    };
  }

  const ios = rng.next() < country.ios;
  const app = rng.next() < APP_SHARE;
  const appVersion = app ? rng.pick(APP_VERSIONS) : null;
  const appInfo = appVersion
    ? { name: 'Strata Shop', version: appVersion[0], build: appVersion[1], namespace: 'com.example.stratashop' }
    : null;

  if (ios) {
    const handset = type === 'tablet' ? rng.pick(IPADS) : rng.pick(IPHONES);
    const osVersion = rng.pick(IOS_VERSIONS);
    const uaOs = osVersion.replace(/\./g, '_');
    const short = osVersion.split('.').slice(0, 2).join('.');
    const deviceWord = type === 'tablet' ? 'iPad; CPU OS' : 'iPhone; CPU iPhone OS';
    let browser: { name: string; version: string } | null = null;
    let ua: string;
    if (appInfo) {
      ua = `StrataShop/${appInfo.version} (${handset.code}; iOS ${osVersion}; Scale/${handset.density.toFixed(2)})`;
    } else {
      const browserName = IOS_BROWSERS.sample(rng);
      if (browserName === 'Chrome') {
        const v = rng.pick(CHROME_VERSIONS);
        browser = { name: 'Chrome', version: `${v}.0.0.0` };
        ua = `Mozilla/5.0 (${deviceWord} ${uaOs} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/${v}.0.0.0 Mobile/15E148 Safari/604.1`;
      } else if (browserName === 'Firefox') {
        const v = rng.pick(FIREFOX_VERSIONS);
        browser = { name: 'Firefox', version: `${v}.0` };
        ua = `Mozilla/5.0 (${deviceWord} ${uaOs} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/${v}.0 Mobile/15E148 Safari/605.1.15`;
      } else {
        browser = { name: 'Mobile Safari', version: short };
        ua = `Mozilla/5.0 (${deviceWord} ${uaOs} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${short} Mobile/15E148 Safari/604.1`;
      }
    }
    return {
      type,
      device: { type, manufacturer: handset.manufacturer, model: handset.model },
      os: { name: 'iOS', version: osVersion },
      browser,
      userAgent: ua,
      screen: { width: handset.w, height: handset.h, density: handset.density },
      app,
      library: app ? IOS_LIBRARY : webLibrary,
      appInfo,
    };
  }

  const handset =
    type === 'tablet' ? rng.pick(ANDROID_TABLETS) : (country.code === 'CN' ? PHONES_CN : PHONES_WORLD).sample(rng);
  const osVersion = rng.weighted(ANDROID_VERSIONS);
  const platform = `Linux; Android ${osVersion}; ${handset.code}`;
  const mobileWord = type === 'mobile';
  let browser: { name: string; version: string } | null = null;
  let ua: string;
  if (appInfo) {
    ua = `Dalvik/2.1.0 (Linux; U; Android ${osVersion}; ${handset.code} Build/UP1A.231005.007)`;
  } else {
    const browserName = ANDROID_BROWSERS.sample(rng);
    const v = rng.pick(CHROME_VERSIONS);
    if (browserName === 'Firefox') {
      const fv = rng.pick(FIREFOX_VERSIONS);
      browser = { name: 'Firefox', version: `${fv}.0` };
      ua = `Mozilla/5.0 (Android ${osVersion}; ${mobileWord ? 'Mobile' : 'Tablet'}; rv:${fv}.0) Gecko/${fv}.0 Firefox/${fv}.0`;
    } else if (browserName === 'Samsung Internet') {
      const sv = rng.pick(['24.0', '25.0', '26.0']);
      browser = { name: 'Samsung Internet', version: sv };
      ua = `Mozilla/5.0 (${platform}) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/${sv} Chrome/${v - 6}.0.0.0 ${mobileWord ? 'Mobile ' : ''}Safari/537.36`;
    } else if (browserName === 'Opera') {
      browser = { name: 'Opera', version: `${v - 46}.0.0.0` };
      ua = chromeUa(platform, v, mobileWord) + ` OPR/${v - 46}.0.0.0`;
    } else {
      browser = { name: 'Chrome', version: `${v}.0.0.0` };
      ua = chromeUa(platform, v, mobileWord);
    }
  }
  return {
    type,
    device: { type, manufacturer: handset.manufacturer, model: handset.model },
    os: { name: 'Android', version: osVersion },
    browser,
    userAgent: ua,
    screen: { width: handset.w, height: handset.h, density: handset.density },
    app,
    library: app ? ANDROID_LIBRARY : webLibrary,
    appInfo,
  };
}
