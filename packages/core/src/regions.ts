/**
 * Country lists (ISO 3166-1 alpha-2) of the region templates. The membership of each list is
 * a decision, written down in docs/templates.md with its sources of truth; every list is only
 * the default of a template's editable `countries` parameter.
 */

/** EU members (27), EFTA, the UK, the Balkans, the Eastern neighbours and the microstates. */
export const EUROPE_COUNTRIES: readonly string[] = [
  // European Union
  'AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE',
  'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE',
  // EFTA and the United Kingdom
  'CH', 'IS', 'LI', 'NO', 'GB',
  // Microstates
  'AD', 'MC', 'SM', 'VA',
  // Western Balkans (XK: Kosovo, the user-assigned code the EU, CLDR and GeoIP databases use)
  'AL', 'BA', 'ME', 'MK', 'RS', 'XK',
  // Eastern Europe
  'BY', 'MD', 'UA', 'RU',
  // Dependencies and autonomous territories in Europe
  'AX', 'FO', 'GI', 'GG', 'IM', 'JE', 'SJ',
  // Greenland: a Danish autonomous territory, served from Europe (geographically North America)
  'GL',
];

/** The Middle East: the Gulf, the Levant, Iraq, Iran, Yemen and Türkiye (Egypt is with Africa, Cyprus with Europe). */
export const MIDDLE_EAST_COUNTRIES: readonly string[] = [
  'AE', 'BH', 'IL', 'IQ', 'IR', 'JO', 'KW', 'LB', 'OM', 'PS', 'QA', 'SA', 'SY', 'TR', 'YE',
];

/** The 54 African member states of the United Nations. */
export const AFRICA_UN_MEMBER_COUNTRIES: readonly string[] = [
  'DZ', 'AO', 'BJ', 'BW', 'BF', 'BI', 'CV', 'CM', 'CF', 'TD', 'KM', 'CG', 'CD', 'CI',
  'DJ', 'EG', 'GQ', 'ER', 'SZ', 'ET', 'GA', 'GM', 'GH', 'GN', 'GW', 'KE', 'LS', 'LR',
  'LY', 'MG', 'MW', 'ML', 'MR', 'MU', 'MA', 'MZ', 'NA', 'NE', 'NG', 'RW', 'ST', 'SN',
  'SC', 'SL', 'SO', 'ZA', 'SS', 'SD', 'TZ', 'TG', 'TN', 'UG', 'ZM', 'ZW',
];

/**
 * African territories that are not UN members: Western Sahara, Réunion, Mayotte, Saint Helena
 * (with Ascension and Tristan da Cunha), and the two the UN M49 scheme files under Eastern
 * Africa (British Indian Ocean Territory, French Southern Territories).
 */
export const AFRICA_TERRITORY_CODES: readonly string[] = ['EH', 'RE', 'YT', 'SH', 'IO', 'TF'];

/** The South Caucasus. */
export const CAUCASUS_COUNTRIES: readonly string[] = ['AM', 'AZ', 'GE'];

/**
 * Central Asia. Counted in EMEA: vendors cover it with Russia and the CIS from their EMEA
 * organisations, and its time zones (UTC+5/+6) sit next to the Gulf's rather than East Asia's.
 */
export const CENTRAL_ASIA_COUNTRIES: readonly string[] = ['KZ', 'KG', 'TJ', 'TM', 'UZ'];

/** Europe, the Middle East and Africa, with the Caucasus and Central Asia (docs/templates.md). */
export const EMEA_COUNTRIES: readonly string[] = [
  ...EUROPE_COUNTRIES, ...MIDDLE_EAST_COUNTRIES, ...AFRICA_UN_MEMBER_COUNTRIES, ...AFRICA_TERRITORY_CODES, ...CAUCASUS_COUNTRIES, ...CENTRAL_ASIA_COUNTRIES,
];

/** The United Kingdom is `GB` alone: the Crown Dependencies (GG, JE, IM) and Gibraltar have codes of their own. */
export const UK_COUNTRIES: readonly string[] = ['GB'];

/** Mainland China; Hong Kong (HK), Macao (MO) and Taiwan (TW) are separate markets with codes of their own. */
export const CHINA_COUNTRIES: readonly string[] = ['CN'];

/** The United States; its territories (PR, GU, VI, AS, MP, UM) have codes of their own and can be added. */
export const US_COUNTRIES: readonly string[] = ['US'];
