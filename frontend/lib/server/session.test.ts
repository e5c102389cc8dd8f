import { describe, expect, it } from "vitest";

import {
  SESSION_TTL_SECONDS,
  adminAccessMode,
  decideAdminAccess,
  passwordMatches,
  signSession,
  verifySession,
} from "./session";

const NOW = Date.parse("2025-11-29T10:00:00Z");
const KEY = { password: "correct horse", secret: "a-long-random-session-secret" };

describe("session cookie signing", () => {
  it("verifies a cookie it signed", async () => {
    const token = await signSession(KEY, NOW);
    expect(token).toMatch(/^Fe26\.2\*/); // an iron seal: encrypted and authenticated
    expect(token).not.toContain(String(NOW));
    expect(await verifySession(token, KEY, NOW + 1000)).toBe(true);
  });

  it("signs with a key derived from the password when no secret is set", async () => {
    const key = { password: "correct horse", secret: null };
    const token = await signSession(key, NOW);
    expect(await verifySession(token, key, NOW)).toBe(true);
    expect(await verifySession(token, { ...key, password: "other" }, NOW)).toBe(false);
  });

  it("refuses a tampered seal", async () => {
    const token = await signSession(KEY, NOW);
    const parts = token.split("*");
    for (const index of [3, 4, 7]) {
      const part = parts[index] ?? "";
      const flipped = [...parts];
      flipped[index] = (part.startsWith("A") ? "B" : "A") + part.slice(1);
      expect(await verifySession(flipped.join("*"), KEY, NOW)).toBe(false);
    }
  });

  it("refuses an expired cookie", async () => {
    const token = await signSession(KEY, NOW);
    expect(await verifySession(token, KEY, NOW + SESSION_TTL_SECONDS * 1000 + 1)).toBe(false);
  });

  it("refuses a cookie signed with another secret, and one from before a password change", async () => {
    const token = await signSession(KEY, NOW);
    expect(await verifySession(token, { ...KEY, secret: "another-secret" }, NOW)).toBe(false);
    expect(await verifySession(token, { ...KEY, password: "new password" }, NOW)).toBe(false);
  });

  it("refuses garbage", async () => {
    for (const value of [undefined, null, "", "abc", "1.2", `${NOW + 1000}.!!!`, "Fe26.2**", "x".repeat(5000)]) {
      expect(await verifySession(value, KEY, NOW)).toBe(false);
    }
  });
});

describe("admin access", () => {
  const settings = { adminPassword: "pw", adminSessionSecret: null, production: false };

  it("is never open without a password: locked", () => {
    expect(adminAccessMode({ adminPassword: null })).toBe("locked");
    expect(adminAccessMode({ adminPassword: "pw" })).toBe("password");
  });

  it("needs a valid session when a password is set", async () => {
    expect(await decideAdminAccess(undefined, settings, NOW)).toEqual({
      allowed: false,
      mode: "password",
      reason: "no_session",
    });
    const token = await signSession({ password: "pw", secret: null }, NOW);
    expect(await decideAdminAccess(token, settings, NOW)).toEqual({ allowed: true, mode: "password" });
  });

  it("refuses everyone when locked, even with a cookie", async () => {
    const token = await signSession({ password: "pw", secret: null }, NOW);
    const locked = { adminPassword: null, adminSessionSecret: null, production: true };
    expect(await decideAdminAccess(token, locked, NOW)).toMatchObject({ allowed: false, reason: "locked" });
  });

  it("compares passwords exactly", async () => {
    expect(await passwordMatches("pw", "pw")).toBe(true);
    expect(await passwordMatches("pw ", "pw")).toBe(false);
    expect(await passwordMatches("", "pw")).toBe(false);
  });
});
