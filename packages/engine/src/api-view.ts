/**
 * A stored row as the admin API shows it: without `projectId` (the token's project), and its
 * epoch-millisecond `Times` as ISO strings (isoTime; a null time stays null). Views are declared
 * from their rows with it, so a field added to a row appears in its view.
 */
export type ApiView<R, Times extends keyof R, Also extends keyof R = never> =
  Omit<R, 'projectId' | Times | Also> & { readonly [K in Times]: null extends R[K] ? string | null : string };
