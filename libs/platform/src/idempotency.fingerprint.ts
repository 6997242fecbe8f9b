import { createHash } from 'node:crypto';

export interface FingerprintedRequest {
  headers: Record<string, string | string[] | undefined>;
  params?: unknown;
  query?: unknown;
  body?: unknown;
}

/**
 * What makes two requests with one key "the same": sha256 of the canonical JSON (keys
 * sorted at every level) of the path parameters, the query and the body, so a client that
 * re-serialises its body in another key order is still recognised.
 *
 * A multipart upload is not read before its handler runs (it is streamed), so its body
 * counts only by media type: a retry with the same key and another file on the same route
 * replays the first answer rather than being refused (docs/architecture.md).
 */
export function requestFingerprint(request: FingerprintedRequest): string {
  const contentType = header(request.headers['content-type']);
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  const body = mediaType.startsWith('multipart/') ? { media_type: mediaType } : request.body;
  const material = { params: request.params ?? {}, query: request.query ?? {}, body: body ?? null };
  return createHash('sha256').update(canonicalJson(material)).digest('hex');
}

/** JSON with object keys sorted at every level; `undefined` members are left out as JSON does. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sorted(value));
}

function sorted(value: unknown): unknown {
  if (Buffer.isBuffer(value)) {
    return { sha256: createHash('sha256').update(value).digest('hex') };
  }
  if (Array.isArray(value)) return value.map(sorted);
  if (value === null || typeof value !== 'object') return value;
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return sorted(withJson.toJSON());
  const object = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(object).sort()) out[key] = sorted(object[key]);
  return out;
}

function header(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? '';
}
