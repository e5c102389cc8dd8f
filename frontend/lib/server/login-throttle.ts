/**
 * Slows password guessing on /admin/login, per client, without letting anyone lock the operator out: each failed
 * attempt after the first (a typo is free) doubles the wait before that client may try again (1 s, 2 s, 4 s, … up
 * to 15 min), and a
 * successful sign-in, or a quiet period of twice the longest wait, forgets the client. Other clients are never
 * slowed, so a flood of failures from one address cannot block the operator at another.
 *
 * The client is the address the nearest proxy saw (the last X-Forwarded-For hop, or X-Real-IP); in memory, per
 * server process.
 */
import "server-only";

export const BASE_DELAY_MS = 1000;
export const MAX_DELAY_MS = 15 * 60 * 1000;
const MAX_CLIENTS = 10_000;

interface Failures {
  count: number;
  lastAtMs: number;
}

export class LoginThrottle {
  private readonly failures = new Map<string, Failures>();

  constructor(
    private readonly baseDelayMs = BASE_DELAY_MS,
    private readonly maxDelayMs = MAX_DELAY_MS,
  ) {}

  /** The wait after `count` consecutive failures: none after one, then base × 2^(count-2), capped. */
  delayMs(count: number): number {
    if (count <= 1) return 0;
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(count - 2, 30));
  }

  /** Seconds this client must still wait before its next attempt (0: it may try now). */
  retryAfterSeconds(client: string, nowMs: number = Date.now()): number {
    const entry = this.failures.get(client);
    if (!entry) return 0;
    const elapsed = nowMs - entry.lastAtMs;
    if (elapsed >= 2 * this.maxDelayMs) {
      this.failures.delete(client);
      return 0;
    }
    const remaining = this.delayMs(entry.count) - elapsed;
    return remaining > 0 ? Math.ceil(remaining / 1000) : 0;
  }

  recordFailure(client: string, nowMs: number = Date.now()): void {
    const entry = this.failures.get(client);
    if (!entry || nowMs - entry.lastAtMs >= 2 * this.maxDelayMs) {
      if (this.failures.size >= MAX_CLIENTS) this.forgetQuiet(nowMs);
      this.failures.set(client, { count: 1, lastAtMs: nowMs });
      return;
    }
    entry.count += 1;
    entry.lastAtMs = nowMs;
  }

  recordSuccess(client: string): void {
    this.failures.delete(client);
  }

  /** Drops the clients whose wait is over (memory stays bounded under a flood of addresses). */
  private forgetQuiet(nowMs: number): void {
    for (const [client, entry] of this.failures) {
      if (nowMs - entry.lastAtMs >= this.delayMs(entry.count)) this.failures.delete(client);
    }
    if (this.failures.size >= MAX_CLIENTS) this.failures.clear();
  }
}

export const loginThrottle = new LoginThrottle();

/** The client as the nearest proxy saw it: the last X-Forwarded-For hop (the ones before it are the client's
 * own claims), or X-Real-IP. */
export function clientAddress(headers: Headers): string {
  const hops = (headers.get("x-forwarded-for") ?? "").split(",").map((hop) => hop.trim()).filter(Boolean);
  return hops.at(-1) || headers.get("x-real-ip")?.trim() || "unknown";
}
