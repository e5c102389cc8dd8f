/**
 * The browser's only way to the FastAPI backend. Public `/api/...` paths pass through; `/api/system/...`
 * needs an admin session (checked here as well as in middleware.ts) and gets the server-side X-API-Key.
 * Responses stream, so `/api/system/logs/stream` (server-sent events) flows through as it arrives.
 */
import type { NextRequest } from "next/server";

import { readServerSettings } from "@/lib/server/env";
import {
  downstreamResponseHeaders,
  isEventStream,
  proxyError,
  resolveProxyTarget,
  upstreamRequestHeaders,
  wantsEventStream,
  withOpeningComment,
} from "@/lib/server/proxy";
import {
  ADMIN_LOCKED_MESSAGE,
  ADMIN_LOGIN_REQUIRED_MESSAGE,
  SESSION_COOKIE,
  decideAdminAccess,
} from "@/lib/server/session";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** Requests other than event streams give up after this long. */
const UPSTREAM_TIMEOUT_MS = 20_000;

/** The body, read until it passes `limit` bytes (then null: a large body is never buffered whole). */
async function boundedBody(request: NextRequest, limit: number): Promise<Uint8Array<ArrayBuffer> | null> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) return null;
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

interface RouteContext {
  params: Promise<{ path: string[] }>;
}

async function forward(request: NextRequest, context: RouteContext): Promise<Response> {
  const { path } = await context.params;
  const target = resolveProxyTarget(path);
  if (!target.ok) return proxyError(target.status, "invalid_path", target.message);

  const settings = readServerSettings();
  if (target.system) {
    const access = await decideAdminAccess(request.cookies.get(SESSION_COOKIE)?.value, settings);
    if (!access.allowed) {
      return access.reason === "locked"
        ? proxyError(401, "admin_locked", ADMIN_LOCKED_MESSAGE)
        : proxyError(401, "admin_session_required", ADMIN_LOGIN_REQUIRED_MESSAGE);
    }
    if (!settings.systemApiKey) {
      return proxyError(
        503,
        "system_key_missing",
        "SYSTEM_API_KEY is not set on the dashboard server, so it cannot call the system API.",
      );
    }
  }

  let body: Uint8Array<ArrayBuffer> | undefined;
  if (request.method !== "GET" && request.method !== "HEAD") {
    const read = await boundedBody(request, settings.maxBodyBytes);
    if (read === null) {
      return proxyError(
        413,
        "body_too_large",
        `Request body too large: at most ${settings.maxBodyBytes} bytes (DASHBOARD_MAX_BODY_BYTES).`,
      );
    }
    body = read;
  }

  const streaming = wantsEventStream(request.headers);
  const signal = streaming ? request.signal : AbortSignal.any([request.signal, AbortSignal.timeout(UPSTREAM_TIMEOUT_MS)]);
  const url = `${settings.backendUrl}${target.path}${request.nextUrl.search}`;
  let upstream: Response;
  try {
    upstream = await fetch(url, {
      method: request.method,
      headers: upstreamRequestHeaders(request.headers, {
        system: target.system,
        systemApiKey: settings.systemApiKey,
        clientIp: request.headers.get("x-real-ip"),
      }),
      body,
      signal,
      cache: "no-store",
      redirect: "manual",
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "TimeoutError") {
      return proxyError(504, "backend_timeout", "The API did not answer in time.");
    }
    return proxyError(502, "backend_unreachable", "The dashboard could not reach the API; is the backend running?");
  }

  let responseBody: ReadableStream<Uint8Array> | null = request.method === "HEAD" ? null : upstream.body;
  if (responseBody && upstream.ok && isEventStream(upstream.headers)) responseBody = withOpeningComment(responseBody);
  return new Response(responseBody, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: downstreamResponseHeaders(upstream.headers),
  });
}

export const GET = forward;
export const HEAD = forward;
export const POST = forward;
