/**
 * Constant tables the generator draws from: countries (with locales, cities, time
 * zones), names, the shop's products, pages, campaigns and plans.
 *
 * Everything here is plain data; weights are relative (they need not sum to 100).
 */

export type Region = 'EMEA' | 'APAC' | 'AMER';
export type NameGroup =
  | 'en'
  | 'de'
  | 'fr'
  | 'es'
  | 'it'
  | 'nl'
  | 'nordic'
  | 'pl'
  | 'ar'
  | 'tr'
  | 'africa'
  | 'zh'
  | 'ja'
  | 'ko'
  | 'in'
  | 'id'
  | 'pt';
export type Currency = 'USD' | 'EUR' | 'GBP';

export interface CountryInfo {
  /** ISO 3166-1 alpha-2. */
  readonly code: string;
  readonly name: string;
  readonly region: Region;
  /** Relative share of users. */
  readonly weight: number;
  readonly currency: Currency;
  /** BCP 47 locales with relative weights, all plausible for the country. */
  readonly locales: readonly (readonly [string, number])[];
  /** [city, IANA time zone, weight]. */
  readonly cities: readonly (readonly [string, string, number])[];
  readonly names: NameGroup;
  /** Share of mobile + tablet traffic (0..1). */
  readonly mobile: number;
  /** Share of iOS among mobile / tablet devices (0..1). */
  readonly ios: number;
  /** First octets of the IPv4 addresses handed out for the country. */
  readonly ipPrefixes: readonly number[];
}

type L = readonly (readonly [string, number])[];
type C = readonly (readonly [string, string, number])[];

function country(
  code: string,
  name: string,
  region: Region,
  weight: number,
  currency: Currency,
  locales: L,
  cities: C,
  names: NameGroup,
  mobile: number,
  ios: number,
  ipPrefixes: readonly number[],
): CountryInfo {
  return { code, name, region, weight, currency, locales, cities, names, mobile, ios, ipPrefixes };
}

/** The country mix: US, GB, CN and DE heavy, then the rest of EMEA, Asia-Pacific and the Americas. */
export const COUNTRIES: readonly CountryInfo[] = [
  // ---- Americas
  country('US', 'United States', 'AMER', 22, 'USD', [['en-US', 92], ['es-US', 8]], [
    ['New York', 'America/New_York', 10], ['Los Angeles', 'America/Los_Angeles', 7], ['Chicago', 'America/Chicago', 5],
    ['Houston', 'America/Chicago', 4], ['Phoenix', 'America/Phoenix', 2], ['San Francisco', 'America/Los_Angeles', 3],
    ['Seattle', 'America/Los_Angeles', 3], ['Denver', 'America/Denver', 2], ['Miami', 'America/New_York', 3],
    ['Boston', 'America/New_York', 3], ['Atlanta', 'America/New_York', 3], ['Dallas', 'America/Chicago', 3],
  ], 'en', 0.52, 0.56, [23, 24, 50, 64, 66, 67, 68, 71, 73, 74, 75, 76, 96, 98, 99, 104, 107, 108, 173, 174]),
  country('CA', 'Canada', 'AMER', 3, 'USD', [['en-CA', 78], ['fr-CA', 22]], [
    ['Toronto', 'America/Toronto', 5], ['Montreal', 'America/Toronto', 3], ['Vancouver', 'America/Vancouver', 3],
    ['Calgary', 'America/Edmonton', 2], ['Ottawa', 'America/Toronto', 1],
  ], 'en', 0.5, 0.55, [24, 70, 99, 142, 174, 184]),
  country('BR', 'Brazil', 'AMER', 3, 'USD', [['pt-BR', 100]], [
    ['São Paulo', 'America/Sao_Paulo', 6], ['Rio de Janeiro', 'America/Sao_Paulo', 4], ['Belo Horizonte', 'America/Sao_Paulo', 2],
    ['Brasília', 'America/Sao_Paulo', 2], ['Recife', 'America/Recife', 1],
  ], 'pt', 0.66, 0.18, [177, 179, 187, 189, 191, 200, 201]),
  country('MX', 'Mexico', 'AMER', 1.5, 'USD', [['es-MX', 100]], [
    ['Mexico City', 'America/Mexico_City', 5], ['Guadalajara', 'America/Mexico_City', 2], ['Monterrey', 'America/Monterrey', 2],
    ['Tijuana', 'America/Tijuana', 1],
  ], 'es', 0.65, 0.22, [177, 187, 189, 200, 201]),
  country('AR', 'Argentina', 'AMER', 0.8, 'USD', [['es-AR', 100]], [
    ['Buenos Aires', 'America/Argentina/Buenos_Aires', 5], ['Córdoba', 'America/Argentina/Cordoba', 1], ['Rosario', 'America/Argentina/Cordoba', 1],
  ], 'es', 0.62, 0.15, [181, 186, 190, 200]),
  country('CO', 'Colombia', 'AMER', 0.6, 'USD', [['es-CO', 100]], [
    ['Bogotá', 'America/Bogota', 3], ['Medellín', 'America/Bogota', 2], ['Cali', 'America/Bogota', 1],
  ], 'es', 0.66, 0.16, [181, 186, 190, 191]),
  country('CL', 'Chile', 'AMER', 0.4, 'USD', [['es-CL', 100]], [
    ['Santiago', 'America/Santiago', 4], ['Valparaíso', 'America/Santiago', 1],
  ], 'es', 0.6, 0.25, [186, 190, 200]),
  // ---- EMEA
  country('GB', 'United Kingdom', 'EMEA', 10, 'GBP', [['en-GB', 100]], [
    ['London', 'Europe/London', 10], ['Manchester', 'Europe/London', 3], ['Birmingham', 'Europe/London', 3],
    ['Leeds', 'Europe/London', 2], ['Glasgow', 'Europe/London', 2], ['Bristol', 'Europe/London', 2],
    ['Edinburgh', 'Europe/London', 1], ['Liverpool', 'Europe/London', 1],
  ], 'en', 0.55, 0.52, [2, 5, 31, 51, 62, 77, 78, 81, 86, 90, 109, 146, 185, 212]),
  country('DE', 'Germany', 'EMEA', 8, 'EUR', [['de-DE', 100]], [
    ['Berlin', 'Europe/Berlin', 5], ['Hamburg', 'Europe/Berlin', 3], ['Munich', 'Europe/Berlin', 3],
    ['Cologne', 'Europe/Berlin', 2], ['Frankfurt', 'Europe/Berlin', 2], ['Stuttgart', 'Europe/Berlin', 1],
    ['Düsseldorf', 'Europe/Berlin', 1], ['Leipzig', 'Europe/Berlin', 1],
  ], 'de', 0.48, 0.38, [2, 5, 31, 46, 77, 78, 79, 84, 87, 91, 93, 188, 217]),
  country('FR', 'France', 'EMEA', 4, 'EUR', [['fr-FR', 100]], [
    ['Paris', 'Europe/Paris', 6], ['Lyon', 'Europe/Paris', 2], ['Marseille', 'Europe/Paris', 2],
    ['Toulouse', 'Europe/Paris', 1], ['Nice', 'Europe/Paris', 1], ['Bordeaux', 'Europe/Paris', 1],
  ], 'fr', 0.5, 0.35, [2, 5, 37, 46, 77, 78, 80, 82, 86, 88, 90, 176]),
  country('ES', 'Spain', 'EMEA', 2.5, 'EUR', [['es-ES', 88], ['ca-ES', 12]], [
    ['Madrid', 'Europe/Madrid', 5], ['Barcelona', 'Europe/Madrid', 4], ['Valencia', 'Europe/Madrid', 2],
    ['Seville', 'Europe/Madrid', 1], ['Bilbao', 'Europe/Madrid', 1],
  ], 'es', 0.58, 0.25, [2, 5, 31, 37, 62, 77, 79, 80, 83, 88, 95]),
  country('IT', 'Italy', 'EMEA', 2.5, 'EUR', [['it-IT', 100]], [
    ['Rome', 'Europe/Rome', 4], ['Milan', 'Europe/Rome', 4], ['Naples', 'Europe/Rome', 2],
    ['Turin', 'Europe/Rome', 2], ['Florence', 'Europe/Rome', 1], ['Bologna', 'Europe/Rome', 1],
  ], 'it', 0.58, 0.3, [2, 5, 31, 37, 79, 80, 82, 87, 93, 95, 151]),
  country('NL', 'Netherlands', 'EMEA', 2, 'EUR', [['nl-NL', 100]], [
    ['Amsterdam', 'Europe/Amsterdam', 4], ['Rotterdam', 'Europe/Amsterdam', 2], ['Utrecht', 'Europe/Amsterdam', 1],
    ['The Hague', 'Europe/Amsterdam', 1], ['Eindhoven', 'Europe/Amsterdam', 1],
  ], 'nl', 0.5, 0.45, [31, 62, 77, 80, 82, 83, 84, 145, 213, 217]),
  country('BE', 'Belgium', 'EMEA', 0.6, 'EUR', [['nl-BE', 58], ['fr-BE', 42]], [
    ['Brussels', 'Europe/Brussels', 3], ['Antwerp', 'Europe/Brussels', 2], ['Ghent', 'Europe/Brussels', 1],
  ], 'nl', 0.5, 0.4, [78, 81, 84, 91, 109, 178, 193]),
  country('CH', 'Switzerland', 'EMEA', 0.6, 'EUR', [['de-CH', 65], ['fr-CH', 27], ['it-CH', 8]], [
    ['Zurich', 'Europe/Zurich', 3], ['Geneva', 'Europe/Zurich', 2], ['Basel', 'Europe/Zurich', 1], ['Bern', 'Europe/Zurich', 1],
  ], 'de', 0.5, 0.55, [31, 62, 77, 83, 85, 178, 185, 188, 195]),
  country('AT', 'Austria', 'EMEA', 0.5, 'EUR', [['de-AT', 100]], [
    ['Vienna', 'Europe/Vienna', 4], ['Graz', 'Europe/Vienna', 1], ['Salzburg', 'Europe/Vienna', 1],
  ], 'de', 0.5, 0.4, [77, 80, 81, 83, 84, 91, 178, 193, 212, 213]),
  country('IE', 'Ireland', 'EMEA', 0.5, 'EUR', [['en-IE', 100]], [
    ['Dublin', 'Europe/Dublin', 4], ['Cork', 'Europe/Dublin', 1], ['Galway', 'Europe/Dublin', 1],
  ], 'en', 0.55, 0.5, [31, 46, 78, 79, 86, 87, 89, 109, 176, 185]),
  country('PT', 'Portugal', 'EMEA', 0.5, 'EUR', [['pt-PT', 100]], [
    ['Lisbon', 'Europe/Lisbon', 3], ['Porto', 'Europe/Lisbon', 2],
  ], 'pt', 0.58, 0.28, [2, 5, 31, 62, 77, 78, 85, 89, 94, 148, 188, 193, 194, 195, 213]),
  country('SE', 'Sweden', 'EMEA', 1, 'EUR', [['sv-SE', 100]], [
    ['Stockholm', 'Europe/Stockholm', 4], ['Gothenburg', 'Europe/Stockholm', 2], ['Malmö', 'Europe/Stockholm', 1], ['Uppsala', 'Europe/Stockholm', 1],
  ], 'nordic', 0.52, 0.5, [2, 31, 46, 62, 78, 79, 81, 83, 85, 90, 94, 95, 155, 158, 185, 188, 193, 194, 195, 213, 217]),
  country('NO', 'Norway', 'EMEA', 0.4, 'EUR', [['nb-NO', 100]], [
    ['Oslo', 'Europe/Oslo', 3], ['Bergen', 'Europe/Oslo', 1], ['Trondheim', 'Europe/Oslo', 1],
  ], 'nordic', 0.52, 0.55, [46, 77, 78, 79, 80, 81, 84, 85, 88, 89, 92, 109, 129, 148, 158, 178, 193]),
  country('DK', 'Denmark', 'EMEA', 0.4, 'EUR', [['da-DK', 100]], [
    ['Copenhagen', 'Europe/Copenhagen', 3], ['Aarhus', 'Europe/Copenhagen', 1], ['Odense', 'Europe/Copenhagen', 1],
  ], 'nordic', 0.52, 0.55, [2, 5, 31, 37, 46, 62, 77, 78, 80, 82, 83, 85, 87, 90, 91, 92, 93, 94, 130, 152, 176, 185]),
  country('FI', 'Finland', 'EMEA', 0.4, 'EUR', [['fi-FI', 90], ['sv-FI', 10]], [
    ['Helsinki', 'Europe/Helsinki', 3], ['Espoo', 'Europe/Helsinki', 1], ['Tampere', 'Europe/Helsinki', 1],
  ], 'nordic', 0.52, 0.4, [37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 94, 95]),
  country('PL', 'Poland', 'EMEA', 1.2, 'EUR', [['pl-PL', 100]], [
    ['Warsaw', 'Europe/Warsaw', 4], ['Kraków', 'Europe/Warsaw', 2], ['Wrocław', 'Europe/Warsaw', 1],
    ['Gdańsk', 'Europe/Warsaw', 1], ['Poznań', 'Europe/Warsaw', 1],
  ], 'pl', 0.58, 0.25, [31, 37, 46, 77, 78, 79, 80, 83, 85, 87, 88, 89, 91, 93, 94, 95, 109, 178, 188, 193, 194, 195, 212, 213, 217]),
  country('TR', 'Türkiye', 'EMEA', 1, 'USD', [['tr-TR', 100]], [
    ['Istanbul', 'Europe/Istanbul', 6], ['Ankara', 'Europe/Istanbul', 2], ['Izmir', 'Europe/Istanbul', 2], ['Bursa', 'Europe/Istanbul', 1],
  ], 'tr', 0.68, 0.2, [31, 46, 78, 85, 88, 94, 95, 176, 178, 188, 195, 212, 213]),
  country('AE', 'United Arab Emirates', 'EMEA', 1, 'USD', [['ar-AE', 45], ['en-AE', 55]], [
    ['Dubai', 'Asia/Dubai', 4], ['Abu Dhabi', 'Asia/Dubai', 2], ['Sharjah', 'Asia/Dubai', 1],
  ], 'ar', 0.68, 0.5, [2, 5, 31, 37, 46, 83, 86, 91, 92, 94, 176, 185, 213]),
  country('SA', 'Saudi Arabia', 'EMEA', 0.8, 'USD', [['ar-SA', 100]], [
    ['Riyadh', 'Asia/Riyadh', 4], ['Jeddah', 'Asia/Riyadh', 3], ['Dammam', 'Asia/Riyadh', 1], ['Mecca', 'Asia/Riyadh', 1],
  ], 'ar', 0.72, 0.42, [2, 5, 31, 37, 46, 77, 78, 82, 84, 86, 87, 88, 89, 91, 93, 94, 95, 176, 178, 188, 212]),
  country('IL', 'Israel', 'EMEA', 0.4, 'USD', [['he-IL', 90], ['ar-IL', 10]], [
    ['Tel Aviv', 'Asia/Jerusalem', 3], ['Jerusalem', 'Asia/Jerusalem', 2], ['Haifa', 'Asia/Jerusalem', 1],
  ], 'en', 0.6, 0.35, [2, 5, 31, 37, 46, 77, 79, 80, 81, 82, 84, 85, 87, 89, 91, 93, 94, 109, 147, 176, 185, 192, 212]),
  country('ZA', 'South Africa', 'EMEA', 0.8, 'USD', [['en-ZA', 85], ['af-ZA', 15]], [
    ['Johannesburg', 'Africa/Johannesburg', 4], ['Cape Town', 'Africa/Johannesburg', 3], ['Durban', 'Africa/Johannesburg', 2], ['Pretoria', 'Africa/Johannesburg', 1],
  ], 'africa', 0.72, 0.25, [41, 102, 105, 154, 155, 156, 165, 196, 197]),
  country('NG', 'Nigeria', 'EMEA', 0.7, 'USD', [['en-NG', 100]], [
    ['Lagos', 'Africa/Lagos', 5], ['Abuja', 'Africa/Lagos', 2], ['Ibadan', 'Africa/Lagos', 1], ['Port Harcourt', 'Africa/Lagos', 1],
  ], 'africa', 0.85, 0.1, [41, 102, 105, 129, 154, 160, 196, 197]),
  country('KE', 'Kenya', 'EMEA', 0.3, 'USD', [['en-KE', 80], ['sw-KE', 20]], [
    ['Nairobi', 'Africa/Nairobi', 4], ['Mombasa', 'Africa/Nairobi', 1],
  ], 'africa', 0.85, 0.1, [41, 102, 105, 154, 196, 197]),
  country('EG', 'Egypt', 'EMEA', 0.6, 'USD', [['ar-EG', 100]], [
    ['Cairo', 'Africa/Cairo', 5], ['Alexandria', 'Africa/Cairo', 2], ['Giza', 'Africa/Cairo', 1],
  ], 'ar', 0.8, 0.12, [41, 102, 105, 154, 156, 196, 197]),
  // ---- Asia-Pacific
  country('CN', 'China', 'APAC', 10, 'USD', [['zh-CN', 100]], [
    ['Shanghai', 'Asia/Shanghai', 6], ['Beijing', 'Asia/Shanghai', 6], ['Shenzhen', 'Asia/Shanghai', 4],
    ['Guangzhou', 'Asia/Shanghai', 4], ['Chengdu', 'Asia/Shanghai', 3], ['Hangzhou', 'Asia/Shanghai', 3],
    ['Wuhan', 'Asia/Shanghai', 2], ['Xi\u2019an', 'Asia/Shanghai', 2], ['Nanjing', 'Asia/Shanghai', 2], ['Chongqing', 'Asia/Shanghai', 2],
  ], 'zh', 0.72, 0.24, [1, 14, 27, 36, 39, 42, 49, 58, 59, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 180, 182, 183, 202, 203, 210, 211, 218, 219, 220, 221, 222, 223]),
  country('HK', 'Hong Kong', 'APAC', 0.6, 'USD', [['zh-HK', 75], ['en-HK', 25]], [['Hong Kong', 'Asia/Hong_Kong', 1]], 'zh', 0.66, 0.55, [14, 42, 58, 59, 61, 103, 112, 113, 116, 119, 124, 202, 203, 210, 218, 219]),
  country('TW', 'Taiwan', 'APAC', 0.6, 'USD', [['zh-TW', 100]], [
    ['Taipei', 'Asia/Taipei', 4], ['Kaohsiung', 'Asia/Taipei', 2], ['Taichung', 'Asia/Taipei', 2],
  ], 'zh', 0.66, 0.48, [1, 27, 36, 39, 42, 49, 59, 60, 61, 101, 111, 114, 118, 122, 125, 163, 175, 180, 182, 203, 210, 211, 218, 220, 223]),
  country('JP', 'Japan', 'APAC', 3.5, 'USD', [['ja-JP', 100]], [
    ['Tokyo', 'Asia/Tokyo', 8], ['Osaka', 'Asia/Tokyo', 4], ['Yokohama', 'Asia/Tokyo', 3], ['Nagoya', 'Asia/Tokyo', 2],
    ['Sapporo', 'Asia/Tokyo', 2], ['Fukuoka', 'Asia/Tokyo', 2], ['Kyoto', 'Asia/Tokyo', 1],
  ], 'ja', 0.6, 0.66, [1, 14, 27, 36, 42, 49, 58, 59, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115, 116, 118, 119, 120, 121, 122, 123, 124, 125, 126, 133, 150, 153, 175, 180, 182, 183, 202, 210, 211, 218, 219, 220, 221, 222]),
  country('KR', 'South Korea', 'APAC', 1.5, 'USD', [['ko-KR', 100]], [
    ['Seoul', 'Asia/Seoul', 6], ['Busan', 'Asia/Seoul', 2], ['Incheon', 'Asia/Seoul', 2], ['Daegu', 'Asia/Seoul', 1],
  ], 'ko', 0.66, 0.32, [1, 14, 27, 39, 49, 58, 59, 61, 106, 110, 112, 114, 115, 116, 117, 118, 119, 121, 122, 125, 175, 180, 182, 183, 203, 210, 211, 218, 220, 221, 222]),
  country('IN', 'India', 'APAC', 4, 'USD', [['en-IN', 78], ['hi-IN', 22]], [
    ['Mumbai', 'Asia/Kolkata', 5], ['Delhi', 'Asia/Kolkata', 5], ['Bengaluru', 'Asia/Kolkata', 4], ['Hyderabad', 'Asia/Kolkata', 3],
    ['Chennai', 'Asia/Kolkata', 3], ['Kolkata', 'Asia/Kolkata', 2], ['Pune', 'Asia/Kolkata', 2], ['Ahmedabad', 'Asia/Kolkata', 2],
  ], 'in', 0.78, 0.06, [1, 14, 27, 36, 39, 42, 43, 49, 59, 61, 103, 106, 110, 111, 112, 115, 116, 117, 119, 122, 123, 124, 125, 157, 164, 180, 182, 183, 202, 203, 210]),
  country('SG', 'Singapore', 'APAC', 0.8, 'USD', [['en-SG', 80], ['zh-SG', 20]], [['Singapore', 'Asia/Singapore', 1]], 'zh', 0.62, 0.55, [1, 14, 27, 42, 43, 49, 58, 101, 103, 111, 115, 116, 118, 119, 128, 129, 137, 138, 139, 151, 152, 160, 165, 175, 202, 203, 210, 218, 219]),
  country('ID', 'Indonesia', 'APAC', 1, 'USD', [['id-ID', 100]], [
    ['Jakarta', 'Asia/Jakarta', 5], ['Surabaya', 'Asia/Jakarta', 2], ['Bandung', 'Asia/Jakarta', 2], ['Medan', 'Asia/Jakarta', 1],
    ['Denpasar', 'Asia/Makassar', 1],
  ], 'id', 0.82, 0.1, [36, 39, 49, 101, 103, 110, 111, 112, 114, 116, 118, 120, 125, 139, 180, 182, 202, 203]),
  country('TH', 'Thailand', 'APAC', 0.5, 'USD', [['th-TH', 100]], [['Bangkok', 'Asia/Bangkok', 4], ['Chiang Mai', 'Asia/Bangkok', 1]], 'en', 0.78, 0.3, [1, 27, 49, 58, 61, 101, 110, 113, 115, 118, 124, 125, 171, 180, 182, 183, 202, 203]),
  country('VN', 'Vietnam', 'APAC', 0.5, 'USD', [['vi-VN', 100]], [['Ho Chi Minh City', 'Asia/Ho_Chi_Minh', 3], ['Hanoi', 'Asia/Ho_Chi_Minh', 3], ['Da Nang', 'Asia/Ho_Chi_Minh', 1]], 'en', 0.78, 0.25, [1, 14, 27, 42, 58, 103, 113, 115, 116, 117, 118, 123, 125, 171, 183, 202, 203]),
  country('PH', 'Philippines', 'APAC', 0.5, 'USD', [['en-PH', 80], ['fil-PH', 20]], [['Manila', 'Asia/Manila', 3], ['Quezon City', 'Asia/Manila', 2], ['Cebu City', 'Asia/Manila', 1]], 'en', 0.8, 0.22, [1, 27, 49, 58, 103, 110, 111, 112, 115, 119, 120, 121, 122, 124, 125, 175, 180, 202, 203, 210]),
  country('MY', 'Malaysia', 'APAC', 0.4, 'USD', [['ms-MY', 55], ['en-MY', 45]], [['Kuala Lumpur', 'Asia/Kuala_Lumpur', 3], ['Penang', 'Asia/Kuala_Lumpur', 1], ['Johor Bahru', 'Asia/Kuala_Lumpur', 1]], 'id', 0.75, 0.28, [1, 14, 27, 42, 49, 58, 60, 101, 103, 110, 111, 113, 115, 116, 118, 119, 124, 161, 175, 180, 183, 202, 203, 210, 211, 218, 219]),
  country('AU', 'Australia', 'APAC', 2, 'USD', [['en-AU', 100]], [
    ['Sydney', 'Australia/Sydney', 5], ['Melbourne', 'Australia/Melbourne', 5], ['Brisbane', 'Australia/Brisbane', 3],
    ['Perth', 'Australia/Perth', 2], ['Adelaide', 'Australia/Adelaide', 1],
  ], 'en', 0.55, 0.55, [1, 14, 27, 49, 58, 59, 60, 61, 101, 103, 110, 112, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 139, 144, 150, 180, 182, 202, 203, 210, 211, 220]),
  country('NZ', 'New Zealand', 'APAC', 0.4, 'USD', [['en-NZ', 100]], [['Auckland', 'Pacific/Auckland', 3], ['Wellington', 'Pacific/Auckland', 1], ['Christchurch', 'Pacific/Auckland', 1]], 'en', 0.55, 0.5, [27, 49, 58, 101, 103, 110, 111, 114, 115, 116, 118, 119, 121, 122, 125, 202, 203, 210, 219]),
];

/** `[code, weight]` pairs, ready for `rng.weighted`. */
export const COUNTRY_WEIGHTS: readonly (readonly [string, number])[] = COUNTRIES.map((c) => [c.code, c.weight] as const);

/** Lookup by alpha-2 code. */
export const COUNTRY_BY_CODE: ReadonlyMap<string, CountryInfo> = new Map(COUNTRIES.map((c) => [c.code, c]));

/** Country codes per region (what the EMEA / China / UK / US templates target). */
export const REGION_COUNTRIES: Readonly<Record<Region, readonly string[]>> = {
  EMEA: COUNTRIES.filter((c) => c.region === 'EMEA').map((c) => c.code),
  APAC: COUNTRIES.filter((c) => c.region === 'APAC').map((c) => c.code),
  AMER: COUNTRIES.filter((c) => c.region === 'AMER').map((c) => c.code),
};

// ---------------------------------------------------------------------------------------
// Names (ASCII transliterations so e-mail addresses stay plain)

export const NAMES: Readonly<Record<NameGroup, { readonly first: readonly string[]; readonly last: readonly string[]; readonly familyFirst?: boolean }>> = {
  en: {
    first: ['James', 'Olivia', 'Liam', 'Emma', 'Noah', 'Amelia', 'Oliver', 'Ava', 'Jack', 'Sophia', 'Harry', 'Isla', 'Ethan', 'Mia', 'Lucas', 'Grace', 'Henry', 'Chloe', 'Daniel', 'Emily'],
    last: ['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Taylor', 'Davies', 'Wilson', 'Evans', 'Thomas', 'Miller', 'Moore', 'Clark', 'Walker', 'Wright', 'Hall', 'Green', 'Baker', 'Turner', 'Hughes'],
  },
  de: {
    first: ['Lukas', 'Anna', 'Leon', 'Lena', 'Finn', 'Mia', 'Jonas', 'Hannah', 'Paul', 'Lea', 'Felix', 'Marie', 'Maximilian', 'Laura', 'Elias', 'Sophie'],
    last: ['Mueller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Schulz', 'Hoffmann', 'Koch', 'Richter', 'Wolf', 'Neumann'],
  },
  fr: {
    first: ['Gabriel', 'Louise', 'Raphael', 'Jade', 'Louis', 'Alice', 'Arthur', 'Chloe', 'Jules', 'Lina', 'Hugo', 'Manon', 'Lucas', 'Camille'],
    last: ['Martin', 'Bernard', 'Dubois', 'Thomas', 'Robert', 'Richard', 'Petit', 'Durand', 'Leroy', 'Moreau', 'Simon', 'Laurent', 'Lefebvre', 'Michel'],
  },
  es: {
    first: ['Hugo', 'Lucia', 'Mateo', 'Sofia', 'Martin', 'Martina', 'Pablo', 'Maria', 'Alejandro', 'Paula', 'Daniel', 'Valeria', 'Diego', 'Camila', 'Santiago', 'Isabella'],
    last: ['Garcia', 'Rodriguez', 'Gonzalez', 'Fernandez', 'Lopez', 'Martinez', 'Sanchez', 'Perez', 'Gomez', 'Martin', 'Jimenez', 'Ruiz', 'Hernandez', 'Diaz', 'Torres', 'Ramirez'],
  },
  it: {
    first: ['Leonardo', 'Sofia', 'Francesco', 'Giulia', 'Alessandro', 'Aurora', 'Lorenzo', 'Alice', 'Mattia', 'Ginevra', 'Andrea', 'Emma', 'Gabriele', 'Giorgia'],
    last: ['Rossi', 'Russo', 'Ferrari', 'Esposito', 'Bianchi', 'Romano', 'Colombo', 'Ricci', 'Marino', 'Greco', 'Bruno', 'Gallo', 'Conti', 'DeLuca'],
  },
  nl: {
    first: ['Noah', 'Emma', 'Sem', 'Julia', 'Lucas', 'Mila', 'Levi', 'Tess', 'Daan', 'Sophie', 'Finn', 'Zoe', 'Milan', 'Sara'],
    last: ['deJong', 'Jansen', 'deVries', 'vandenBerg', 'vanDijk', 'Bakker', 'Janssen', 'Visser', 'Smit', 'Meijer', 'deBoer', 'Mulder', 'Peeters', 'Maes'],
  },
  nordic: {
    first: ['William', 'Alice', 'Oscar', 'Maja', 'Lucas', 'Elsa', 'Liam', 'Astrid', 'Elias', 'Freja', 'Emil', 'Ella', 'Jakob', 'Ingrid', 'Aino', 'Onni'],
    last: ['Andersson', 'Johansson', 'Karlsson', 'Nilsson', 'Eriksson', 'Larsson', 'Hansen', 'Johansen', 'Olsen', 'Nielsen', 'Jensen', 'Korhonen', 'Virtanen', 'Berg'],
  },
  pl: {
    first: ['Antoni', 'Zuzanna', 'Jan', 'Julia', 'Aleksander', 'Zofia', 'Franciszek', 'Hanna', 'Jakub', 'Maja', 'Szymon', 'Lena'],
    last: ['Nowak', 'Kowalski', 'Wisniewski', 'Wojcik', 'Kowalczyk', 'Kaminski', 'Lewandowski', 'Zielinski', 'Szymanski', 'Wozniak', 'Dabrowski', 'Kozlowski'],
  },
  ar: {
    first: ['Mohammed', 'Fatima', 'Ahmed', 'Mariam', 'Omar', 'Aisha', 'Ali', 'Noor', 'Youssef', 'Layla', 'Khalid', 'Sara', 'Hassan', 'Huda', 'Ibrahim', 'Salma'],
    last: ['AlSaud', 'Hassan', 'Mansour', 'AlFarsi', 'Haddad', 'Khalil', 'Nasser', 'Saleh', 'Ibrahim', 'Mahmoud', 'AlMaktoum', 'Abdullah', 'Farouk', 'Aziz'],
  },
  tr: {
    first: ['Yusuf', 'Zeynep', 'Eymen', 'Elif', 'Mustafa', 'Defne', 'Emir', 'Asel', 'Omer', 'Azra', 'Ali', 'Ecrin'],
    last: ['Yilmaz', 'Kaya', 'Demir', 'Sahin', 'Celik', 'Yildiz', 'Yildirim', 'Ozturk', 'Aydin', 'Ozdemir', 'Arslan', 'Dogan'],
  },
  africa: {
    first: ['Chinedu', 'Ngozi', 'Thabo', 'Amara', 'Kwame', 'Zanele', 'Tunde', 'Nomvula', 'Sipho', 'Adaeze', 'Emeka', 'Lerato', 'Wanjiru', 'Kofi'],
    last: ['Okafor', 'Adeyemi', 'Nkosi', 'Dlamini', 'Mensah', 'Okonkwo', 'Ndlovu', 'Balogun', 'Mokoena', 'Kamau', 'Otieno', 'Eze', 'VanDerMerwe', 'Botha'],
  },
  zh: {
    first: ['Wei', 'Fang', 'Jing', 'Lei', 'Min', 'Yang', 'Jie', 'Xin', 'Hao', 'Ying', 'Jun', 'Lina', 'Tao', 'Mei', 'Chen', 'Yu'],
    last: ['Wang', 'Li', 'Zhang', 'Liu', 'Chen', 'Yang', 'Huang', 'Zhao', 'Wu', 'Zhou', 'Xu', 'Sun', 'Ma', 'Zhu', 'Hu', 'Lin'],
    familyFirst: true,
  },
  ja: {
    first: ['Haruto', 'Yui', 'Sota', 'Hina', 'Ren', 'Aoi', 'Yuto', 'Sakura', 'Riku', 'Mei', 'Kaito', 'Yuna', 'Takumi', 'Rin'],
    last: ['Sato', 'Suzuki', 'Takahashi', 'Tanaka', 'Watanabe', 'Ito', 'Yamamoto', 'Nakamura', 'Kobayashi', 'Kato', 'Yoshida', 'Yamada', 'Sasaki', 'Matsumoto'],
    familyFirst: true,
  },
  ko: {
    first: ['Minjun', 'Seoyeon', 'Jiho', 'Jiwoo', 'Hyunwoo', 'Seoyun', 'Junseo', 'Hayoon', 'Dohyun', 'Minseo', 'Siwoo', 'Yuna'],
    last: ['Kim', 'Lee', 'Park', 'Choi', 'Jung', 'Kang', 'Cho', 'Yoon', 'Jang', 'Lim', 'Han', 'Shin'],
    familyFirst: true,
  },
  in: {
    first: ['Aarav', 'Priya', 'Vivaan', 'Ananya', 'Aditya', 'Diya', 'Arjun', 'Isha', 'Sai', 'Kavya', 'Rohan', 'Aditi', 'Vihaan', 'Sneha', 'Rahul', 'Pooja'],
    last: ['Sharma', 'Verma', 'Patel', 'Gupta', 'Singh', 'Kumar', 'Reddy', 'Iyer', 'Nair', 'Das', 'Mehta', 'Joshi', 'Rao', 'Chopra', 'Shah', 'Mishra'],
  },
  id: {
    first: ['Budi', 'Siti', 'Agus', 'Dewi', 'Rizky', 'Putri', 'Andi', 'Ayu', 'Aditya', 'Nur', 'Hendra', 'Rina', 'Ahmad', 'Nurul'],
    last: ['Santoso', 'Wijaya', 'Saputra', 'Hidayat', 'Pratama', 'Kusuma', 'Lestari', 'Setiawan', 'Rahman', 'Tan', 'Lim', 'Abdullah', 'Ismail', 'Hakim'],
  },
  pt: {
    first: ['Miguel', 'Helena', 'Arthur', 'Alice', 'Gael', 'Laura', 'Heitor', 'Valentina', 'Theo', 'Manuela', 'Davi', 'Beatriz', 'Joao', 'Ines'],
    last: ['Silva', 'Santos', 'Oliveira', 'Souza', 'Rodrigues', 'Ferreira', 'Alves', 'Pereira', 'Lima', 'Gomes', 'Costa', 'Ribeiro', 'Martins', 'Carvalho'],
  },
};

export const EMAIL_DOMAINS: readonly string[] = ['example.com', 'example.org', 'example.net', 'mail.example.com', 'inbox.example.org'];

// ---------------------------------------------------------------------------------------
// The shop

export const SITE_ORIGIN = 'https://shop.example.com';
export const SITE_NAME = 'Strata Shop';

export interface Product {
  readonly id: string;
  readonly sku: string;
  readonly name: string;
  readonly category: string;
  /** Price in cents (in the visitor's currency; the shop uses one price list). */
  readonly cents: number;
  /** Relative popularity. */
  readonly popularity: number;
}

const PRODUCT_SEED: readonly (readonly [name: string, category: string, cents: number])[] = [
  ['Classic Cotton T-Shirt', 'apparel', 1999],
  ['Merino Crew Sweater', 'apparel', 8900],
  ['Waterproof Rain Jacket', 'apparel', 12900],
  ['Slim Fit Chinos', 'apparel', 5900],
  ['Everyday Hoodie', 'apparel', 4900],
  ['Running Shoes Pro', 'footwear', 13900],
  ['Leather Chelsea Boots', 'footwear', 18900],
  ['Canvas Sneakers', 'footwear', 6500],
  ['Wool Socks 3-Pack', 'accessories', 1800],
  ['Leather Belt', 'accessories', 3900],
  ['Canvas Tote Bag', 'accessories', 2400],
  ['Travel Backpack 30L', 'bags', 11900],
  ['Weekender Duffel', 'bags', 16900],
  ['Laptop Sleeve 14"', 'bags', 3400],
  ['Wireless Earbuds', 'electronics', 7900],
  ['Noise-Cancelling Headphones', 'electronics', 24900],
  ['Smart Watch S2', 'electronics', 29900],
  ['Portable Speaker', 'electronics', 5900],
  ['USB-C Charger 65W', 'electronics', 3900],
  ['Phone Case', 'electronics', 1900],
  ['4K Action Camera', 'electronics', 34900],
  ['Espresso Machine', 'home', 44900],
  ['Pour-Over Coffee Set', 'home', 4500],
  ['Ceramic Mug Set', 'home', 2900],
  ['Linen Bed Sheets', 'home', 9900],
  ['Scented Candle', 'home', 1600],
  ['Desk Lamp', 'home', 6900],
  ['Cast Iron Skillet', 'kitchen', 4900],
  ['Chef Knife 8"', 'kitchen', 8900],
  ['Bamboo Cutting Board', 'kitchen', 2500],
  ['Yoga Mat', 'sports', 3900],
  ['Adjustable Dumbbells', 'sports', 27900],
  ['Insulated Water Bottle', 'sports', 2900],
  ['Cycling Helmet', 'sports', 8900],
  ['Skincare Starter Kit', 'beauty', 5400],
  ['Vitamin C Serum', 'beauty', 3200],
  ['Gift Card $50', 'gift', 5000],
  ['Gift Card $100', 'gift', 10000],
  ['Christmas Gift Box', 'seasonal', 7900],
  ['Beach Towel', 'seasonal', 2900],
];

/** The catalogue: ids p1001…, popularity Zipf-like by position. */
export const PRODUCTS: readonly Product[] = PRODUCT_SEED.map(([name, category, cents], i) => ({
  id: `p${1001 + i}`,
  sku: `SKU-${category.slice(0, 3).toUpperCase()}-${String(1001 + i)}`,
  name,
  category,
  cents,
  popularity: 1 / (1 + ((i * 7) % PRODUCT_SEED.length)) ** 0.8,
}));

export const BLOG_SLUGS: readonly string[] = [
  'how-to-choose-running-shoes',
  'capsule-wardrobe-guide',
  'best-coffee-at-home',
  'travel-packing-checklist',
  'sustainable-materials',
  'gift-guide',
  'home-office-setup',
  'summer-style-2025',
  'winter-layering-tips',
  'care-for-leather',
  'yoga-for-beginners',
  'behind-the-scenes',
];

export const SEARCH_TERMS: readonly string[] = [
  'shoes', 'running shoes', 'jacket', 'rain jacket', 'headphones', 'gift card', 'backpack', 'sweater',
  'coffee', 'espresso machine', 'christmas gift', 'smart watch', 'yoga mat', 'socks', 'boots', 'sale',
  'towel', 'earbuds', 'hoodie', 'knife', 'candle', 'serum', 'discount code', 'shipping',
];

export type Plan = 'free' | 'basic' | 'pro' | 'vip';
export const PLANS: readonly Plan[] = ['free', 'basic', 'pro', 'vip'];

/** Event names the generator uses for `track` calls. */
export const TRACK_EVENTS = ['Product Viewed', 'add_to_cart', 'purchase', 'login', 'signed_up', 'inquiry', 'search'] as const;
export type TrackEvent = (typeof TRACK_EVENTS)[number];

/** Paths the generator produces (`<id>` / `<slug>` stand for catalogue entries). */
export const PAGE_PATHS: readonly string[] = [
  '/',
  '/pricing',
  '/products',
  '/products/<id>',
  '/cart',
  '/checkout',
  '/blog',
  '/blog/<slug>',
  '/seasonal/christmas',
  '/seasonal/summer-sale',
  '/search',
  '/contact',
  '/account',
];

export interface CampaignSpec {
  readonly source: string;
  readonly medium: string;
  readonly name: string;
  readonly term?: string;
  readonly content?: string;
  /** Landing path (a product id is substituted for `<id>`). */
  readonly landing: string;
  /** Referrer the browser reports for a click on it ('' = none). */
  readonly referrer: string;
  /** Only runs in these UTC months (0 = January); absent = all year. */
  readonly months?: readonly number[];
  readonly weight: number;
}

export const CAMPAIGNS: readonly CampaignSpec[] = [
  { source: 'google', medium: 'cpc', name: 'brand_search', term: 'strata shop', landing: '/', referrer: 'https://www.google.com/', weight: 10 },
  { source: 'google', medium: 'cpc', name: 'generic_shoes', term: 'running shoes', content: 'ad_a', landing: '/products/p1006', referrer: 'https://www.google.com/', weight: 6 },
  { source: 'google', medium: 'cpc', name: 'generic_headphones', term: 'noise cancelling headphones', content: 'ad_b', landing: '/products/p1016', referrer: 'https://www.google.com/', weight: 5 },
  { source: 'bing', medium: 'cpc', name: 'brand_search', term: 'strata shop', landing: '/', referrer: 'https://www.bing.com/', weight: 2 },
  { source: 'facebook', medium: 'paid_social', name: 'retargeting', content: 'carousel', landing: '/cart', referrer: 'https://l.facebook.com/', weight: 5 },
  { source: 'instagram', medium: 'paid_social', name: 'new_arrivals', content: 'story', landing: '/products', referrer: 'https://l.instagram.com/', weight: 5 },
  { source: 'tiktok', medium: 'paid_social', name: 'creator_collab', content: 'video_1', landing: '/products/p1015', referrer: 'https://www.tiktok.com/', weight: 3 },
  { source: 'newsletter', medium: 'email', name: 'weekly_digest', content: 'hero', landing: '/blog', referrer: '', weight: 6 },
  { source: 'newsletter', medium: 'email', name: 'pricing_update', content: 'cta', landing: '/pricing', referrer: '', weight: 3 },
  { source: 'partner', medium: 'affiliate', name: 'deals_site', landing: '/products/<id>', referrer: 'https://deals.example.net/', weight: 3 },
  { source: 'baidu', medium: 'cpc', name: 'brand_search_cn', term: 'strata', landing: '/', referrer: 'https://www.baidu.com/', weight: 2 },
  { source: 'google', medium: 'cpc', name: 'christmas_sale', term: 'christmas gifts', landing: '/seasonal/christmas', referrer: 'https://www.google.com/', months: [10, 11], weight: 12 },
  { source: 'newsletter', medium: 'email', name: 'christmas_gift_guide', content: 'banner', landing: '/seasonal/christmas', referrer: '', months: [10, 11], weight: 8 },
  { source: 'instagram', medium: 'paid_social', name: 'summer_sale', content: 'reel', landing: '/seasonal/summer-sale', referrer: 'https://l.instagram.com/', months: [5, 6, 7], weight: 10 },
  { source: 'newsletter', medium: 'email', name: 'summer_sale', content: 'hero', landing: '/seasonal/summer-sale', referrer: '', months: [5, 6, 7], weight: 6 },
];

/** Referrers of visits without a campaign ('' = direct / typed / bookmark). */
export const ORGANIC_REFERRERS: readonly (readonly [string, number])[] = [
  ['', 40],
  ['https://www.google.com/', 34],
  ['https://www.bing.com/', 4],
  ['https://duckduckgo.com/', 3],
  ['https://www.facebook.com/', 5],
  ['https://t.co/', 2],
  ['https://www.reddit.com/', 3],
  ['https://www.youtube.com/', 3],
  ['https://www.baidu.com/', 2],
  ['https://news.example.org/', 2],
  ['https://blog.example.net/', 2],
];

/**
 * Standard-time UTC offsets (hours) of the time zones above; used only to put visits in
 * plausible local waking hours, so daylight saving time is ignored.
 */
export const TZ_OFFSET_HOURS: Readonly<Record<string, number>> = {
  'Africa/Cairo': 2, 'Africa/Johannesburg': 2, 'Africa/Lagos': 1, 'Africa/Nairobi': 3,
  'America/Argentina/Buenos_Aires': -3, 'America/Argentina/Cordoba': -3, 'America/Bogota': -5,
  'America/Chicago': -6, 'America/Denver': -7, 'America/Edmonton': -7, 'America/Los_Angeles': -8,
  'America/Mexico_City': -6, 'America/Monterrey': -6, 'America/New_York': -5, 'America/Phoenix': -7,
  'America/Recife': -3, 'America/Santiago': -4, 'America/Sao_Paulo': -3, 'America/Tijuana': -8,
  'America/Toronto': -5, 'America/Vancouver': -8,
  'Asia/Bangkok': 7, 'Asia/Dubai': 4, 'Asia/Ho_Chi_Minh': 7, 'Asia/Hong_Kong': 8, 'Asia/Jakarta': 7,
  'Asia/Jerusalem': 2, 'Asia/Kolkata': 5.5, 'Asia/Kuala_Lumpur': 8, 'Asia/Makassar': 8, 'Asia/Manila': 8,
  'Asia/Riyadh': 3, 'Asia/Seoul': 9, 'Asia/Shanghai': 8, 'Asia/Singapore': 8, 'Asia/Taipei': 8, 'Asia/Tokyo': 9,
  'Australia/Adelaide': 9.5, 'Australia/Brisbane': 10, 'Australia/Melbourne': 10, 'Australia/Perth': 8,
  'Australia/Sydney': 10,
  'Europe/Amsterdam': 1, 'Europe/Berlin': 1, 'Europe/Brussels': 1, 'Europe/Copenhagen': 1, 'Europe/Dublin': 0,
  'Europe/Helsinki': 2, 'Europe/Istanbul': 3, 'Europe/Lisbon': 0, 'Europe/London': 0, 'Europe/Madrid': 1,
  'Europe/Oslo': 1, 'Europe/Paris': 1, 'Europe/Rome': 1, 'Europe/Stockholm': 1, 'Europe/Vienna': 1,
  'Europe/Warsaw': 1, 'Europe/Zurich': 1,
  'Pacific/Auckland': 12,
};
