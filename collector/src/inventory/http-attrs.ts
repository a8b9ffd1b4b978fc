/**
 * HTTP client span attributes, current (stable HTTP semantic conventions) and the pre-1.21 names
 * older instrumentations still write. (Candidates for tokenledger/semconv.)
 */
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
export const ATTR_HTTP_METHOD_OLD = 'http.method';
export const ATTR_URL_FULL = 'url.full';
export const ATTR_URL_PATH = 'url.path';
export const ATTR_HTTP_URL_OLD = 'http.url';
export const ATTR_HTTP_TARGET_OLD = 'http.target';
export const ATTR_NET_PEER_NAME_OLD = 'net.peer.name';
export const ATTR_NET_PEER_PORT_OLD = 'net.peer.port';
export const ATTR_HTTP_HOST_OLD = 'http.host';
export const ATTR_HTTP_STATUS_CODE_OLD = 'http.status_code';
