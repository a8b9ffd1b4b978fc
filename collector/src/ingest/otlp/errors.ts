/** The request body could not be decoded as an OTLP trace export request (HTTP 400). */
export class OtlpDecodeError extends Error {
  override readonly name: string = 'OtlpDecodeError';
  /** The HTTP status the receiver should answer with. */
  readonly statusCode: number = 400;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The body's media type is neither OTLP protobuf nor OTLP JSON (HTTP 415). */
export class OtlpUnsupportedContentTypeError extends OtlpDecodeError {
  override readonly name: string = 'OtlpUnsupportedContentTypeError';
  override readonly statusCode: number = 415;
  constructor(readonly contentType: string) {
    super(
      `unsupported OTLP content type '${contentType}': expected application/x-protobuf or application/json`,
    );
  }
}
