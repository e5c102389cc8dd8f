import { describe, expect, it } from "vitest";

import { LoginThrottle, clientAddress } from "./login-throttle";

describe("LoginThrottle", () => {
  it("lets a first typo go, then doubles a client's wait after each failure, up to the cap", () => {
    const throttle = new LoginThrottle(1000, 8000);
    let now = 0;
    const waits: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      throttle.recordFailure("1.2.3.4", now);
      waits.push(throttle.retryAfterSeconds("1.2.3.4", now));
      now += throttle.retryAfterSeconds("1.2.3.4", now) * 1000;
      expect(throttle.retryAfterSeconds("1.2.3.4", now)).toBe(0);
    }
    expect(waits).toEqual([0, 1, 2, 4, 8, 8, 8]);
  });

  it("never slows another client, however many failures one makes", () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < 1000; i += 1) throttle.recordFailure("attacker", i);
    expect(throttle.retryAfterSeconds("attacker", 1000)).toBeGreaterThan(60);
    expect(throttle.retryAfterSeconds("operator", 1000)).toBe(0);
  });

  it("forgets a client that signs in, or stays quiet for twice the longest wait", () => {
    const throttle = new LoginThrottle(1000, 60_000);
    throttle.recordFailure("c", 0);
    throttle.recordFailure("c", 0);
    throttle.recordSuccess("c");
    expect(throttle.retryAfterSeconds("c", 1)).toBe(0);
    for (let i = 0; i < 10; i += 1) throttle.recordFailure("d", 0);
    expect(throttle.retryAfterSeconds("d", 59_000)).toBe(1);
    expect(throttle.retryAfterSeconds("d", 60_000)).toBe(0);
    throttle.recordFailure("d", 60_000);
    expect(throttle.retryAfterSeconds("d", 60_000)).toBe(60);
    throttle.recordFailure("d", 180_000);
    expect(throttle.retryAfterSeconds("d", 180_000)).toBe(0);
  });
});

describe("clientAddress", () => {
  it("takes the hop the nearest proxy added, not the client's own claims", () => {
    expect(clientAddress(new Headers({ "x-forwarded-for": "6.6.6.6, 10.0.0.7" }))).toBe("10.0.0.7");
    expect(clientAddress(new Headers({ "x-real-ip": "10.0.0.8" }))).toBe("10.0.0.8");
    expect(clientAddress(new Headers())).toBe("unknown");
  });
});
