/**
 * The rules of the dashboard's proxy to FastAPI (`/api/backend/<path>` -> `BACKEND_URL/<path>`):
 * which paths pass, which are system paths (session required, X-API-Key added), and which headers cross.
 * Headers are allow-listed both ways: the admin session cookie never reaches the backend and a client
 * cannot send its own X-API-Key.
 */
import "server-only";

export type ProxyTarget =
  | { ok: true; path: string; system: boolean }
  | { ok: false; status: number; message: string };

const SEGMENT = /^[A-Za-z0-9._~:@!$&'()*+,;=-]+$/;

/** Maps the catch-all segments to the backend path; only `/api/...` is reachable, and no dot segments. */
export function resolveProxyTarget(segments: readonly string[]): ProxyTarget {
  if (segments.length < 2 || segments[0] !== "api") {
    return { ok: false, status: 404, message: "Only /api/... paths of the backend are proxied." };
  }
  for (const segment of segments) {
    if (segment === "." || segment === ".." || !SEGMENT.test(segment)) {
      return { ok: false, status: 400, message: "Invalid path segment." };
    }
  }
  // Case-insensitive on purpose: anything that could reach /api/system is treated as a system path.
  const system = segments[1]?.toLowerCase() === "system";
  return { ok: true, path: "/" + segments.map((segment) => encodeURIComponent(segment)).join("/"), system };
}

/** Whether a dashboard pathname (`/api/backend/...`) targets the system API; used by the middleware. */
export function isSystemProxyPath(pathname: string): boolean {
  const prefix = "/api/backend/";
  if (!pathname.startsWith(prefix)) return false;
  const segments = pathname
    .slice(prefix.length)
    .split("/")
    .map((segment) => {
      try {
        return decodeURIComponent(segment).toLowerCase();
      } catch {
        return segment.toLowerCase();
      }
    });
  // Strict on purpose ("systemx" counts too); the route handler re-checks after full validation.
  return segments[0] === "api" && (segments[1] ?? "").startsWith("system");
}

const FORWARDED_REQUEST_HEADERS = ["accept", "accept-language", "content-type", "if-none-match", "last-event-id"];
const FORWARDED_RESPONSE_HEADERS = [
  "content-type",
  "cache-control",
  "etag",
  "last-modified",
  "retry-after",
  "x-request-id",
];

export interface UpstreamHeaderOptions {
  system: boolean;
  systemApiKey: string | null;
  clientIp?: string | null;
}

export function upstreamRequestHeaders(incoming: Headers, options: UpstreamHeaderOptions): Headers {
  const headers = new Headers();
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = incoming.get(name);
    if (value) headers.set(name, value);
  }
  const forwardedFor = [incoming.get("x-forwarded-for"), options.clientIp].filter(Boolean).join(", ");
  if (forwardedFor) headers.set("x-forwarded-for", forwardedFor);
  if (options.system && options.systemApiKey) headers.set("x-api-key", options.systemApiKey);
  return headers;
}

export function downstreamResponseHeaders(upstream: Headers): Headers {
  const headers = new Headers();
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = upstream.get(name);
    if (value) headers.set(name, value);
  }
  if (isEventStream(upstream)) {
    // no-transform keeps the compression middleware of `next start` from buffering the stream.
    headers.set("cache-control", "no-cache, no-transform");
    headers.set("x-accel-buffering", "no");
  } else if (!headers.has("cache-control")) {
    headers.set("cache-control", "no-store");
  }
  return headers;
}

export function isEventStream(headers: Headers): boolean {
  return (headers.get("content-type") ?? "").toLowerCase().startsWith("text/event-stream");
}

export function wantsEventStream(headers: Headers): boolean {
  return (headers.get("accept") ?? "").toLowerCase().includes("text/event-stream");
}

/**
 * The upstream event stream with an SSE comment in front. Next.js sends the response headers with the first
 * body chunk, and the backend's first bytes may be a heartbeat many seconds away: the comment (ignored by
 * EventSource) lets the browser see the stream open at once.
 */
export function withOpeningComment(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const opening = new TextEncoder().encode(": connected through the dashboard\n\n");
  const reader = body.getReader();
  let sentOpening = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!sentOpening) {
        sentOpening = true;
        controller.enqueue(opening);
        return;
      }
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** A JSON error in the API's own error shape, so the client reads proxy errors like backend errors. */
export function proxyError(status: number, detail: string, message: string): Response {
  return Response.json({ detail, message }, { status, headers: { "cache-control": "no-store" } });
}
