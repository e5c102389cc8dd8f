import { describe, expect, it } from "vitest";

import { LoginThrottle } from "./login-throttle";

describe("LoginThrottle", () => {
  it("refuses a client after too many failures, until the window passes", () => {
    const throttle = new LoginThrottle(3, 60_000);
    for (let i = 0; i < 3; i += 1) {
      expect(throttle.retryAfterSeconds("1.2.3.4", 1_000)).toBe(0);
      throttle.recordFailure("1.2.3.4", 1_000);
    }
    expect(throttle.retryAfterSeconds("1.2.3.4", 2_000)).toBe(59);
    expect(throttle.retryAfterSeconds("5.6.7.8", 2_000)).toBe(0);
    expect(throttle.retryAfterSeconds("1.2.3.4", 61_000)).toBe(0);
  });

  it("forgets the failures of a client that signs in", () => {
    const throttle = new LoginThrottle(1, 60_000);
    throttle.recordFailure("c", 0);
    throttle.recordSuccess("c");
    expect(throttle.retryAfterSeconds("c", 1)).toBe(0);
  });
});
