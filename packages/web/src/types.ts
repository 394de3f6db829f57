/** Wire shapes of the admin API (docs/api.md, /openapi.json) the UI reads. */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface Warning {
  code: 'DUPLICATE' | 'CONTRADICTION' | 'EMPTY' | 'SUBSET' | 'HIGH_OVERLAP';
  message: string;
  segmentIds: string[];
  paths?: string[];
  jaccard?: number;
}

export interface Segment {
  id: string;
  name: string;
  description: string;
  condition: Json;
  include: string[];
  exclude: string[];
  template: string | null;
  params: Record<string, Json> | null;
  size: number;
  createdAt: string;
  updatedAt: string;
  warnings?: Warning[];
}

export interface Member {
  userId: string | null;
  anonymousId: string | null;
  since: string;
  /** In the member listing: added by hand (on the include list). */
  manual?: boolean;
}

export interface PreviewResult {
  count: number;
  total: number;
  sample: (Member & { why: string[] })[];
  warnings: Warning[];
}

export interface TemplateParam {
  name: string;
  label: string;
  type: 'string' | 'number' | 'integer' | 'duration' | 'string[]' | 'date' | 'enum';
  description?: string;
  default: Json;
  min?: number | string;
  max?: number | string;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  itemPattern?: string;
  options?: string[];
}

export interface Template {
  id: string;
  name: string;
  description: string;
  suggestedUse: string;
  recommended: boolean;
  category: string;
  params: TemplateParam[];
  condition: Json;
}

export interface SeriesPoint {
  date: string;
  size: number;
  entered: number;
  exited: number;
}

/** GET /api/segments/:id/insights (and each segment of /api/insights/compare). */
export interface Insights {
  segmentId: string;
  name: string;
  days: number;
  size: number;
  series: SeriesPoint[];
  missions: { participants: number; participationRate: number; completers: number; completionRate: number; completions: number };
  rewards: { redemptions: number; redeemers: number };
  points: { earned: number; spent: number };
  topEvents: { name: string; count: number; users: number }[];
}

export interface HistoryItem {
  segmentId: string;
  segmentName: string | null;
  userId: string | null;
  anonymousId: string | null;
  kind: 'entered' | 'exited';
  at: string;
  reason: string;
}
