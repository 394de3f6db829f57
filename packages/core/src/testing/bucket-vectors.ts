import vectorFile from '../../fixtures/bucket-vectors.json' with { type: 'json' };

/** One (salt, id) pair and the bucket GrowthBook v2 hashing gives it. */
export interface BucketVector {
  readonly salt: string;
  readonly id: string;
  readonly bucket: number;
}

/** The bucket vectors of `packages/core/fixtures/bucket-vectors.json`. */
export const BUCKET_VECTORS: readonly BucketVector[] = (vectorFile as { vectors: BucketVector[] }).vectors;
