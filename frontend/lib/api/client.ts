/**
 * The typed API client used by the browser. Every request goes to the dashboard's own server
 * (`/api/backend/...`), which forwards it to FastAPI and adds the system key server-side: the browser
 * never talks to the backend nor sees the key.
 */
import createClient from "openapi-fetch";

import { ApiError, messageFromBody } from "./errors";
import type { paths } from "./schema";

export const API_PROXY_PREFIX = "/api/backend";

export const api = createClient<paths>({ baseUrl: API_PROXY_PREFIX });

/** The data of an openapi-fetch result, or an ApiError carrying the API's readable message. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || result.data === undefined) {
    throw new ApiError(result.response.status, messageFromBody(result.error, result.response.status));
  }
  return result.data;
}

/** The proxied URL of the log stream (server-sent events), for EventSource. */
export function logStreamUrl(query: URLSearchParams): string {
  const qs = query.toString();
  return `${API_PROXY_PREFIX}/api/system/logs/stream${qs ? `?${qs}` : ""}`;
}
