/**
 * Reads an OTLP request body as raw bytes, inflating gzip, deflate and brotli, within the body
 * limit and the receiver's memory budget (./ingest-budget.ts): every byte is counted against the
 * request's share as it arrives, so a crowd of large, slow or compressed bodies holds at most the
 * budget. Errors are those express.raw gave (413 over the limit, 400 for a bad stream, 415 for an
 * unknown encoding), plus 429 when the budget has no room; the rest of a refused body is read and
 * discarded before the answer, so that the sender sees the answer rather than a reset connection.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { BudgetShare, IngestBudget } from './ingest-budget';

/** A body that cannot be read; `status` is what the receiver answers. */
export class BodyError extends Error {
  override readonly name = 'BodyError';
  constructor(
    readonly status: number,
    /** body-parser's names where they exist: entity.too.large, request.aborted, encoding.unsupported… */
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown when the memory budget has no room for the request now: answered 429 + Retry-After. */
export const INGEST_BUSY = 'ingest.busy';

export interface OtlpBodyOptions {
  /** Largest body, bytes after inflation. */
  limit: number;
  budget: IngestBudget;
}

/** The request's share of the budget, set by otlpBody for the handler after it. */
export function budgetShareOf(res: Response): BudgetShare | undefined {
  return res.locals.budgetShare as BudgetShare | undefined;
}

export function otlpBody(opts: OtlpBodyOptions): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const share = opts.budget.share();
    res.locals.budgetShare = share;
    // Released when the response is done or the connection dropped, whatever happened in between.
    res.once('close', () => share.release());
    readBody(req, opts.limit, share).then(
      (body) => {
        req.body = body;
        next();
      },
      (err: unknown) => {
        share.resize(0);
        discardRest(req, () => next(err));
      },
    );
  };
}

function decompressor(encoding: string): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      throw new BodyError(415, 'encoding.unsupported', `unsupported content encoding "${encoding}"`);
  }
}

function readBody(req: Request, limit: number, share: BudgetShare): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const encoding = String(req.headers['content-encoding'] ?? 'identity')
      .trim()
      .toLowerCase();
    const declared = encoding === 'identity' ? Number(req.headers['content-length'] ?? NaN) : NaN;
    if (declared > limit) {
      reject(new BodyError(413, 'entity.too.large', 'request entity too large'));
      return;
    }
    let inflater: ReturnType<typeof decompressor> | undefined;
    try {
      inflater = encoding === 'identity' ? undefined : decompressor(encoding);
    } catch (err) {
      reject(err);
      return;
    }
    const source: Readable = inflater ?? req;
    if (inflater) req.pipe(inflater);
    // Every chunk is counted as it arrives, so a sender holds only what it has sent (declaring a
    // length and then stalling holds nothing). A body whose length is declared is copied into one
    // buffer of that length, whose pages become resident only as they are written; others are
    // gathered in chunks and joined at the end.
    const known = Number.isInteger(declared) && declared > 0 ? declared : undefined;
    let whole: Buffer | undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    let done = false;
    const finish = (err: BodyError | undefined, body?: Buffer): void => {
      if (done) return;
      done = true;
      source.removeListener('data', onData);
      if (inflater) {
        req.unpipe(inflater);
        inflater.on('error', () => undefined);
        inflater.destroy();
      }
      if (err) reject(err);
      else resolve(body!);
    };
    const onData = (chunk: Buffer): void => {
      const at = received;
      received += chunk.length;
      if (received > limit) {
        finish(new BodyError(413, 'entity.too.large', 'request entity too large'));
      } else if (known !== undefined && received > known) {
        return; // the length check at the end answers it
      } else if (!share.grow(chunk.length)) {
        finish(busy());
      } else if (known !== undefined) {
        whole ??= Buffer.allocUnsafe(known);
        chunk.copy(whole, at);
      } else {
        chunks.push(chunk);
      }
    };
    source.on('data', onData);
    source.once('error', (err: Error) =>
      finish(new BodyError(400, 'stream.invalid', `could not read the body: ${err.message}`)),
    );
    req.once('aborted', () => finish(new BodyError(400, 'request.aborted', 'request aborted')));
    source.once('end', () => {
      if (!Number.isNaN(declared) && received !== declared) {
        finish(new BodyError(400, 'request.size.invalid', 'request size did not match content length'));
        return;
      }
      if (whole !== undefined || chunks.length <= 1) {
        finish(undefined, whole ?? chunks[0] ?? Buffer.alloc(0));
        return;
      }
      // Joining the chunks holds the body twice for a moment.
      if (!share.grow(received)) {
        finish(busy());
        return;
      }
      const body = Buffer.concat(chunks, received);
      chunks.length = 0;
      share.resize(share.bytes - received);
      finish(undefined, body);
    });
  });
}

function busy(): BodyError {
  return new BodyError(429, INGEST_BUSY, 'collector busy: too much OTLP data in flight; retry later');
}

/** Reads what is left of a refused request, discarding it, then calls `then`. */
function discardRest(req: Request, then: () => void): void {
  if (req.complete || req.destroyed) {
    then();
    return;
  }
  const onEnd = (): void => {
    req.removeListener('close', onEnd);
    req.removeListener('end', onEnd);
    then();
  };
  req.once('end', onEnd);
  req.once('close', onEnd);
  req.resume();
}
