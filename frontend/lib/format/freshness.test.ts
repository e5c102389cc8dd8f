import { describe, expect, it } from "vitest";

import type { Freshness } from "@/lib/api/types";

import { STALE_AFTER_SECONDS, assessFreshness, describeMissingData, worstFreshness } from "./freshness";

const NOW = Date.parse("2025-11-29T10:00:00Z");
const ago = (seconds: number) => new Date(NOW - seconds * 1000).toISOString();

function freshness(overrides: Partial<Freshness> = {}): Freshness {
  return {
    status: "ok",
    source: "prim",
    fetched_at: ago(20),
    last_success_at: ago(20),
    age_seconds: 20,
    stale: false,
    error: null,
    ...overrides,
  };
}

describe("assessFreshness", () => {
  it("is fresh when the source succeeded recently and the API does not say stale", () => {
    expect(assessFreshness({ freshness: freshness(), fetchedAtMs: NOW - 5_000, nowMs: NOW })).toMatchObject({
      stale: false,
      reason: null,
    });
  });

  it("is stale when the API flags it", () => {
    expect(assessFreshness({ freshness: freshness({ stale: true }), nowMs: NOW }).stale).toBe(true);
  });

  it("is stale when the last success is older than 3 minutes, even if the API said fresh at fetch time", () => {
    const f = freshness({ last_success_at: ago(STALE_AFTER_SECONDS + 1) });
    const result = assessFreshness({ freshness: f, fetchedAtMs: NOW - 1_000, nowMs: NOW });
    expect(result.stale).toBe(true);
    expect(result.reason).toMatch(/last live data at \d\d:\d\d/);
  });

  it("becomes stale as time passes without a new fetch", () => {
    const f = freshness({ last_success_at: ago(0) });
    expect(assessFreshness({ freshness: f, fetchedAtMs: NOW, nowMs: NOW + 170_000 }).stale).toBe(false);
    expect(assessFreshness({ freshness: f, fetchedAtMs: NOW, nowMs: NOW + 181_000 }).stale).toBe(true);
  });

  it("is stale when the dashboard itself has not reached the API for 3 minutes", () => {
    const result = assessFreshness({ fetchedAtMs: NOW - 200_000, nowMs: NOW });
    expect(result.stale).toBe(true);
    expect(result.reason).toMatch(/not reached the API/);
  });

  it("is stale when no source ever succeeded", () => {
    expect(assessFreshness({ freshness: freshness({ last_success_at: null, status: "never" }), nowMs: NOW })).toMatchObject({
      stale: true,
      ageSeconds: null,
    });
  });
});

describe("worstFreshness", () => {
  it("picks the oldest or API-flagged stale line", () => {
    const fresh = freshness();
    const old = freshness({ last_success_at: ago(100) });
    const flagged = freshness({ stale: true });
    expect(worstFreshness([fresh, old], NOW)).toBe(old);
    expect(worstFreshness([old, flagged, fresh], NOW)).toBe(flagged);
    expect(worstFreshness([], NOW)).toBeNull();
  });

  it("ignores lines that never delivered while others did, but reports them when none did", () => {
    const fresh = freshness();
    const never = freshness({ status: "never", last_success_at: null });
    expect(worstFreshness([fresh, never], NOW)).toBe(fresh);
    expect(worstFreshness([never, undefined], NOW)).toBe(never);
  });
});

describe("describeMissingData", () => {
  it("names the failed source, its time and error", () => {
    const text = describeMissingData(
      freshness({ status: "failed", source: "prim", fetched_at: "2025-11-29T13:02:00Z", error: "HTTP 503" }),
    );
    expect(text).toBe("No live data for this line: source prim failed at 14:02 (HTTP 503).");
  });

  it("falls back on the failed attempts when the freshness has no error", () => {
    const text = describeMissingData(freshness({ status: "failed", error: null }), [
      { source: "prim", ok: false, error: "timeout", duration_ms: 10_000, requests: 1, items: 0 },
      { source: "ratp_http", ok: true, error: null, duration_ms: 300, requests: 1, items: 0 },
    ]);
    expect(text).toContain("(prim: timeout)");
  });

  it("says when no source was fetched yet", () => {
    expect(describeMissingData(freshness({ status: "never" }))).toMatch(/no source has been fetched/);
    expect(describeMissingData(null)).toMatch(/no source has been fetched/);
  });

  it("says nothing for a line with fresh data", () => {
    expect(describeMissingData(freshness())).toBeNull();
  });
});
