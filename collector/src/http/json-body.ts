/**
 * `express.json` for the API's request bodies, with lone UTF-16 surrogates repaired (→ U+FFFD):
 * JSON can carry them (`"\ud83d"`, an emoji cut in half), and ClickHouse refuses such a row, which
 * would fail the write on every retry.
 */
import express from 'express';
import { wellFormed } from '../ingest/otlp/normalize';

const repairStrings = (_key: string, value: unknown): unknown =>
  typeof value === 'string' ? wellFormed(value) : value;

export function jsonBody(limit: string): express.RequestHandler {
  return express.json({ limit, reviver: repairStrings });
}
