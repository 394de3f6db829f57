import { randomBytes } from 'node:crypto';

/** A new row id: the kind's prefix and 64 random bits (`seg_…`, `mis_…`, `whk_…`). */
export const newId = (prefix: string): string => `${prefix}_${randomBytes(8).toString('hex')}`;

/** A new signing secret of a webhook or destination, in the Standard Webhooks form (`whsec_` + base64). */
export const newSigningSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;
