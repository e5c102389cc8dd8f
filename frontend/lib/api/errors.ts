/** The error every API call throws: the HTTP status and the readable message the API (or the proxy) gave. */

export class ApiError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }

  get isUnauthorised(): boolean {
    return this.status === 401;
  }

  get isNotFound(): boolean {
    return this.status === 404;
  }
}

/** The readable message of an error body: `message` first (the agreed shape), then FastAPI's `detail`. */
export function messageFromBody(body: unknown, status: number): string {
  if (body && typeof body === "object") {
    const { message, detail } = body as { message?: unknown; detail?: unknown };
    if (typeof message === "string" && message) return message;
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail)) {
      const parts = detail
        .map((item: unknown) => (item && typeof item === "object" ? (item as { msg?: unknown }).msg : undefined))
        .filter((msg): msg is string => typeof msg === "string");
      if (parts.length) return parts.join("; ");
    }
  }
  if (typeof body === "string" && body.trim()) return body.trim().slice(0, 300);
  return `The API answered HTTP ${status}`;
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
