/**
 * Slows password guessing on /admin/login: after too many failures from one client within the window,
 * further attempts are refused until the window passes. A second, larger budget counts failures from every
 * client together, since the client address (X-Forwarded-For) can be forged. In memory, per server process.
 */
import "server-only";

export const MAX_FAILURES = 10;
export const WINDOW_MS = 15 * 60 * 1000;

interface Failures {
  count: number;
  firstAtMs: number;
}

export class LoginThrottle {
  private readonly failures = new Map<string, Failures>();

  constructor(
    private readonly maxFailures = MAX_FAILURES,
    private readonly windowMs = WINDOW_MS,
  ) {}

  /** Seconds to wait before trying again, or 0 when this client may try now. */
  retryAfterSeconds(client: string, nowMs: number = Date.now()): number {
    const entry = this.failures.get(client);
    if (!entry) return 0;
    if (nowMs - entry.firstAtMs >= this.windowMs) {
      this.failures.delete(client);
      return 0;
    }
    return entry.count >= this.maxFailures ? Math.ceil((entry.firstAtMs + this.windowMs - nowMs) / 1000) : 0;
  }

  recordFailure(client: string, nowMs: number = Date.now()): void {
    const entry = this.failures.get(client);
    if (!entry || nowMs - entry.firstAtMs >= this.windowMs) {
      this.failures.set(client, { count: 1, firstAtMs: nowMs });
      if (this.failures.size > 10_000) this.failures.clear();
      return;
    }
    entry.count += 1;
  }

  recordSuccess(client: string): void {
    this.failures.delete(client);
  }
}

export const loginThrottle = new LoginThrottle();
export const ALL_CLIENTS = "*";
export const globalLoginThrottle = new LoginThrottle(100);
