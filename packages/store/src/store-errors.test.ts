import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { AppError } from '@strata/core';
import { ClosedConnectionError, ConnectionError, DrainingConnectionError, NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import { JetStreamApiError } from '@nats-io/jetstream';
import { storeUnavailableReason } from './store-errors.ts';

const sqlite = (code: string) => new BetterSqlite3.SqliteError('store error', code);
const postgres = (code: string) => Object.assign(new pg.DatabaseError('server error', 0, 'error'), { code });
const net = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -111, syscall: 'connect' });

describe('which store errors mean the store is unavailable', () => {
  it('names the driver code of SQLite lock, file and disk errors, extended codes included', () => {
    for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', 'SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC', 'SQLITE_FULL', 'SQLITE_CANTOPEN']) {
      expect(storeUnavailableReason(sqlite(code))).toBe(code);
    }
  });

  it('names PostgreSQL shutdowns, lost connections, exhausted resources and a read-only standby', () => {
    for (const code of ['57P01', '57P02', '57P03', '08006', '08001', '53100', '53300', '25006']) expect(storeUnavailableReason(postgres(code))).toBe(code);
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND']) expect(storeUnavailableReason(net(code))).toBe(code);
    for (const message of ['Connection terminated unexpectedly', 'Connection terminated due to connection timeout', 'Client has encountered a connection error and is not queryable']) {
      expect(storeUnavailableReason(new Error(message))).toBe(message);
    }
  });

  it('looks inside a cause and an AggregateError (a connection tried on several addresses)', () => {
    expect(storeUnavailableReason(new AggregateError([new Error('x'), net('ECONNREFUSED')], 'connect failed'))).toBe('ECONNREFUSED');
    expect(storeUnavailableReason(new Error('wrapped', { cause: sqlite('SQLITE_BUSY') }))).toBe('SQLITE_BUSY');
  });

  it('names a NATS server that is not there or not answering, and JetStream refusing for want of resources', () => {
    expect(storeUnavailableReason(new ConnectionError('connection refused', { cause: net('ECONNREFUSED') }))).toBe('NATS_CONNECTION');
    expect(storeUnavailableReason(new ClosedConnectionError())).toBe('NATS_CONNECTION_CLOSED');
    expect(storeUnavailableReason(new DrainingConnectionError())).toBe('NATS_CONNECTION_DRAINING');
    expect(storeUnavailableReason(new TimeoutError())).toBe('NATS_TIMEOUT');
    expect(storeUnavailableReason(new RequestError('no responders', { cause: new NoRespondersError('$JS.API.STREAM.INFO.X') }))).toBe('NATS_NO_RESPONDERS');
    expect(storeUnavailableReason(new JetStreamApiError({ code: 503, err_code: 10023, description: 'insufficient resources' }))).toBe('NATS_JETSTREAM_UNAVAILABLE');
  });

  it('leaves NATS errors that are the caller\'s fault, and timeouts that are not NATS\'s', () => {
    expect(storeUnavailableReason(new JetStreamApiError({ code: 400, err_code: 10071, description: 'wrong last sequence: 3' }))).toBeNull();
    expect(storeUnavailableReason(new JetStreamApiError({ code: 404, err_code: 10059, description: 'stream not found' }))).toBeNull();
    expect(storeUnavailableReason(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))).toBeNull();
  });

  it('leaves the request\'s faults and Strata\'s own to others', () => {
    for (const err of [
      sqlite('SQLITE_CONSTRAINT_UNIQUE'), sqlite('SQLITE_ERROR'), sqlite('SQLITE_CORRUPT'), sqlite('SQLITE_MISMATCH'),
      postgres('23505'), postgres('22021'), postgres('42P01'), postgres('40001'), postgres('57014'),
      new TypeError('x is undefined'), new AppError({ code: 'NOT_FOUND', message: 'no user' }), null, undefined, 'SQLITE_BUSY', 42,
    ]) {
      expect(storeUnavailableReason(err)).toBeNull();
    }
  });
});
