import { Ajv, type Options, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';
import { unstorableStrings } from '@strata/core';

/**
 * Request validation without guessing. A JSON body is validated as sent: `false` is not a
 * condition, `null` is not a price, `""` is not a list of segments and `true` is not one point,
 * so each of those is a 400 naming its path (docs/api.md, "Types"). Only the parts of a request
 * that HTTP carries as text — the query string, path parameters and headers — are read as the
 * numbers or booleans their schemas declare, since text is all they can be.
 */
const COMMON: Options = {
  allErrors: true,
  useDefaults: true,
  removeAdditional: false,
  // The same TypeBox schema object (with its $id) can guard several routes.
  addUsedSchema: false,
  strict: false,
  // Errors carry their schema, so a refusal can name the limit it applies (`x-limit`, errors.ts).
  verbose: true,
};

function ajvWith(coerceTypes: Options['coerceTypes']): Ajv {
  const ajv = new Ajv({ ...COMMON, coerceTypes });
  addFormats.default(ajv);
  return ajv;
}

/**
 * An admin body's, a public redemption's, a path's or a query string's schema, then one more
 * rule they share: no string in it (a value or a key) may hold a NUL character or an unpaired
 * surrogate, which no store keeps faithfully — an id with a NUL would name a profile that ingest itself refuses. (Ingest checks
 * the same per message, so that one bad item of a batch does not refuse the others.)
 */
function withStorableStrings(validate: ValidateFunction): ValidateFunction {
  const check = ((data: unknown) => {
    if (!validate(data)) {
      check.errors = validate.errors;
      return false;
    }
    const paths = unstorableStrings(data);
    check.errors = paths.length === 0 ? null : paths.map((instancePath) => ({
      instancePath: instancePath === '/' ? '' : instancePath,
      schemaPath: '#',
      keyword: 'storable',
      params: {},
      message: 'strings may not contain NUL characters or unpaired surrogates',
    }));
    return paths.length === 0;
  }) as ValidateFunction;
  check.schema = validate.schema;
  return check;
}

/** Fastify's validator compiler for Strata: strict JSON bodies, typed text elsewhere. */
export function requestValidatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const strict = ajvWith(false);
  const textual = ajvWith('array');
  return ({ schema, httpPart, url }): ValidateFunction => {
    // Path parameters and query strings become ids and SQL parameters as well: PostgreSQL
    // refuses a NUL in text, so unchecked they would answer 500 there (the fuzz test found
    // GET /v1/targeting?anonymousId=%00).
    if (httpPart === 'params' || httpPart === 'querystring') return withStorableStrings(textual.compile(schema as object));
    if (httpPart !== 'body') return textual.compile(schema as object);
    const validate = strict.compile(schema as object);
    return url.startsWith('/api/') || url.startsWith('/v1/rewards/') ? withStorableStrings(validate) : validate;
  };
}
