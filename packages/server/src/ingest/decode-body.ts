import { Transform, type Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { AppError, LIMITS, limitText, type LimitName } from '@strata/core';

/** Fastify compares the bytes it read with Content-Length through this field of a preParsing stream. */
type Decoded = Transform & { receivedEncodedLength: number };

const INFLATERS: Record<string, () => Transform> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate };

/**
 * Inflates gzip- and deflate-encoded request bodies of a scope as they arrive (SDKs such as
 * RudderStack's compress their batches by default). The scope's body limit applies to the
 * decoded bytes: inflation stops the moment they pass `limit`, so a small body that would
 * inflate to gigabytes costs at most `limit` bytes of work. Fastify still counts the bytes
 * received against Content-Length.
 */
export function registerBodyDecoding(app: FastifyInstance, limitName: LimitName): void {
  const limit = LIMITS[limitName];
  app.addHook('preParsing', (req, _reply, payload, done) => {
    const header = req.headers['content-encoding'];
    const encoding = (Array.isArray(header) ? header.join(', ') : header ?? '').trim().toLowerCase();
    if (encoding === '' || encoding === 'identity') return done(null, payload);
    const inflater = INFLATERS[encoding];
    if (!inflater) {
      return done(new AppError({ code: 'UNSUPPORTED_ENCODING', message: `Content-Encoding "${encoding}" is not supported: send the body as is (identity), gzip or deflate` }));
    }
    done(null, decode(payload, inflater(), encoding, limitName));
  });
}

function decode(payload: Readable, inflate: Transform, encoding: string, limitName: LimitName): Decoded {
  const limit = LIMITS[limitName];
  let decoded = 0;
  const stop = (err: AppError) => {
    payload.unpipe(inflate);
    inflate.unpipe(out);
    inflate.destroy();
    out.destroy(err);
  };
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      decoded += chunk.length;
      if (decoded > limit) {
        cb();
        stop(new AppError({ code: 'DECODED_TOO_LARGE', message: `the ${encoding} request body inflates past ${limit} bytes, the limit of this endpoint (${limitText(limitName)})` }));
        return;
      }
      cb(null, chunk);
    },
  }) as Decoded;
  out.receivedEncodedLength = 0;
  payload.on('data', (chunk: Buffer) => { out.receivedEncodedLength += chunk.length; });
  inflate.on('error', (e) => stop(new AppError({ code: 'VALIDATION_FAILED', message: `the request body is not valid ${encoding} data: ${e.message}` })));
  payload.pipe(inflate).pipe(out);
  return out;
}
