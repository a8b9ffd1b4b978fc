export { decodeTraceRequest, mediaType, CONTENT_TYPE_JSON, CONTENT_TYPE_PROTOBUF } from './decode';
export { OtlpDecodeError, OtlpUnsupportedContentTypeError } from './errors';
export * from './types';
