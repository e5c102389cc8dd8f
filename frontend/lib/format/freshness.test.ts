import { createTranslator } from "next-intl";
import { describe, expect, it } from "vitest";

import type { Freshness, LinesSummary, StopFreshness } from "@/lib/api/types";
import { en } from "@/messages/en";
import { fr } from "@/messages/fr";

import {
  STALE_AFTER_SECONDS,
  assessFreshness,
  dataState,
  lineSentence,
  networkStatus,
  stopNote,
  worstFreshness,
} from "./freshness";

const t = createTranslator({ locale: "en", messages: en, namespace: "freshness" });
const home = createTranslator({ locale: "en", messages: en, namespace: "home" });

// 10:00 UTC is 11:00 in Paris (winter time): every clock below reads Paris time.
const NOW = Date.parse("2025-11-29T10:00:00Z");
const ago = (seconds: number) => new Date(NOW - seconds * 1000).toISOString();

function freshness(overrides: Partial<Freshness> = {}): Freshness {
  return {
    status: "ok",
    reason: null,
    source: "prim",
    fetched_at: ago(20),
    last_success_at: ago(20),
    age_seconds: 20,
    stale: false,
    stale_after_seconds: 90,
    stops_total: 25,
    stops_failed: 0,
    stops_stale: 0,
    ...overrides,
  };
}

function stop(overrides: Partial<StopFreshness> = {}): StopFreshness {
  return {
    status: "ok",
    reason: null,
    source: "prim",
    fetched_at: ago(20),
    last_success_at: ago(20),
    age_seconds: 20,
    stale: false,
    ...overrides,
  };
}

function summary(overrides: Partial<LinesSummary> = {}): LinesSummary {
  return {
    lines_total: 16,
    lines_live: 0,
    lines_stale: 0,
    lines_failed: 16,
    lines_no_data: 0,
    reason: "unreachable",
    last_success_at: "2025-11-29T06:12:00Z",
    ...overrides,
  };
}

const TECHNICAL = /prim|ratp_http|vmtr|errno|circuit|PRIM_API_KEY|unknown source|HTTP \d/i;

describe("lineSentence", () => {
  it("says nothing for a line whose every stop answered within the window", () => {
    expect(lineSentence(t, freshness(), NOW)).toBeNull();
  });

  it("gives the reason and the last update of a failed line, never the technical error", () => {
    const text = lineSentence(
      t,
     freshness({ status: "failed", reason: "unreachable", last_success_at: "2025-11-29T06:12:00Z" }),
      NOW,
    );
    expect(text).toBe("No live data: the departures service is unreachable; last update 07:12.");
    expect(text).not.toMatch(TECHNICAL);
  });

  it("writes a failed line without any data and without a reason as one plain sentence", () => {
    expect(lineSentence(t, freshness({ status: "failed", reason: null, last_success_at: null }), NOW)).toBe(
      "No live data: the last update failed.",
    );
  });

  it("counts the stops that could not be refreshed on a partial line", () => {
    expect(lineSentence(t, freshness({ status: "partial", stops_failed: 3, stops_total: 25 }), NOW)).toBe(
      "Some stops could not be refreshed (3 of 25); their boards are older.",
    );
  });

  it("gives the time and age of a stale line", () => {
    const text = lineSentence(t, freshness({ status: "stale", stale: true, last_success_at: ago(9 * 60) }), NOW);
    expect(text).toBe("Departures as of 10:51 (9 min ago): not refreshed since.");
  });

  it("turns stale while the page stays open, once the data is older than the API's window", () => {
    const f = freshness({ last_success_at: ago(0), stale_after_seconds: 90 });
    expect(lineSentence(t, f, NOW + 80_000)).toBeNull();
    expect(lineSentence(t, f, NOW + 120_000)).toBe("Departures as of 11:00 (2 min ago): not refreshed since.");
  });

  it("says when a line was never fetched, and why when the API knows", () => {
    expect(lineSentence(t, freshness({ status: "never", last_success_at: null, reason: "not_fetched" }), NOW)).toBe(
      "No live data yet: this line has not been fetched.",
    );
    expect(lineSentence(t, freshness({ status: "never", last_success_at: null, reason: "no_stop_ids" }), NOW)).toBe(
      "No live data yet: the stops of this line are not identified yet.",
    );
    expect(lineSentence(t, null, NOW)).toMatch(/^No live data yet/);
  });

  it("says the sources answered without departures", () => {
    expect(lineSentence(t, freshness({ status: "no_data", fetched_at: ago(60) }), NOW)).toBe(
      "No departures reported: the departures service answered at 10:59 without any.",
    );
  });

  it("writes every reason as a human phrase", () => {
    const reasons = Object.keys(en.freshness.reasons) as (keyof typeof en.freshness.reasons)[];
    expect(reasons).toContain("not_configured");
    for (const reason of reasons) {
      const text = lineSentence(t, freshness({ status: "failed", reason }), NOW);
      expect(text).toMatch(/^No live data: [a-z'’ (),]+; last update 10:59\.$/);
      expect(text).not.toMatch(TECHNICAL);
    }
  });

  it("gives the day with the time of a last update older than today", () => {
    const text = lineSentence(t, freshness({ status: "failed", reason: "unreachable", last_success_at: ago(2 * 86400) }), NOW);
    expect(text).toBe("No live data: the departures service is unreachable; last update 27/11, 11:00.");
  });
});

describe("stopNote", () => {
  it("is empty for a stop that answered in the latest fetch", () => {
    expect(stopNote(t, stop(), NOW)).toBeNull();
  });

  it("gives the time and age of a stale or failed stop's board", () => {
    expect(stopNote(t, stop({ status: "stale", stale: true, last_success_at: ago(9 * 60) }), NOW)?.label).toBe(
      "as of 10:51 (9 min ago)",
    );
    expect(stopNote(t, stop({ status: "failed", last_success_at: ago(300) }), NOW)?.label).toBe("as of 10:55 (5 min ago)");
  });

  it("says 'no live data' for a failed stop that never answered, nothing for one never fetched", () => {
    expect(stopNote(t, stop({ status: "failed", last_success_at: null }), NOW)?.label).toBe("no live data");
    expect(stopNote(t, stop({ status: "never", last_success_at: null }), NOW)).toBeNull();
  });

  it("turns stale with the line's window while the page stays open", () => {
    expect(stopNote(t, stop({ last_success_at: ago(100) }), NOW, 90)?.label).toBe("as of 10:58 (1 min ago)");
    expect(stopNote(t, stop({ last_success_at: ago(100) }), NOW, 300)).toBeNull();
  });
});

describe("dataState", () => {
  it("is live only for ok or partial data within the window", () => {
    expect(dataState(freshness(), NOW)).toBe("live");
    expect(dataState(freshness({ status: "partial" }), NOW)).toBe("live");
    expect(dataState(freshness({ stale: true }), NOW)).toBe("stale");
    expect(dataState(freshness({ status: "failed" }), NOW)).toBe("stale");
    expect(dataState(freshness({ status: "failed", last_success_at: null }), NOW)).toBe("none");
    expect(dataState(freshness({ status: "never", last_success_at: null }), NOW)).toBe("none");
    expect(dataState(freshness({ status: "no_data" }), NOW)).toBe("none");
    expect(dataState(null, NOW)).toBe("none");
  });
});

describe("networkStatus", () => {
  const meta = { demo_mode: false, prim_configured: true };

  it("is live, with the live headline, when some line is live", () => {
    const status = networkStatus(t, summary({ lines_live: 16, lines_failed: 0, reason: null }), meta, NOW);
    expect(status).toMatchObject({ state: "live", sentence: null });
    expect(home(status.headline)).toBe("Next departures, live");
    expect(networkStatus(t, summary({ lines_live: 12, lines_failed: 4 }), meta, NOW).sentence).toBe(
      "Live data on 12 of 16 lines; the others are stale or failing.",
    );
  });

  it("says that no line is live, why and since when", () => {
    const status = networkStatus(t, summary(), meta, NOW);
    expect(status.state).toBe("stale");
    expect(home(status.headline)).not.toMatch(/live/i);
    expect(status.sentence).toBe(
      "No line has live data right now: the departures service is unreachable; last update 07:12.",
    );
  });

  it("names the missing PRIM key", () => {
    const status = networkStatus(t, summary({ reason: "unreachable" }), { ...meta, prim_configured: false }, NOW);
    expect(status.sentence).toBe(
      "No line has live data right now: no PRIM API key is configured and the departures service is unreachable; last update 07:12.",
    );
    expect(networkStatus(t, summary({ reason: "no_key", last_success_at: null }), meta, NOW).sentence).toBe(
      "No line has live data right now: no PRIM API key is configured.",
    );
  });

  it("says no line has been fetched yet", () => {
    const status = networkStatus(t, summary({ reason: "not_fetched", last_success_at: null }), meta, NOW);
    expect(status).toMatchObject({
      state: "none",
      sentence: "No line has live data right now: no line has been fetched yet.",
    });
    expect(networkStatus(t, summary({ reason: null, last_success_at: null }), meta, NOW).sentence).toMatch(
      /no line has been fetched yet/,
    );
  });

  it("never says 'live' in demo mode, and says the data is replayed", () => {
    const demo = { demo_mode: true, prim_configured: true };
    const live = networkStatus(t, summary({ lines_live: 16, lines_failed: 0, reason: null }), demo, NOW);
    expect(home(live.headline)).not.toMatch(/live/i);
    expect(home(live.headline)).toMatch(/replayed/);
    const none = networkStatus(t, summary(), demo, NOW);
    expect(home(none.headline)).not.toMatch(/live/i);
    expect(none.sentence).toMatch(/^No line has live data right now: the departures service is unreachable.*replayed/);
  });
});

describe("assessFreshness", () => {
  it("is live when the line is live and the dashboard reached the API recently", () => {
    expect(assessFreshness(t, { freshness: freshness(), fetchedAtMs: NOW - 5_000, nowMs: NOW })).toMatchObject({
      state: "live",
      reason: null,
    });
  });

  it("is stale with the line's sentence when the API flags it", () => {
    const result = assessFreshness(t, { freshness: freshness({ stale: true, last_success_at: ago(600) }), nowMs: NOW });
    expect(result).toMatchObject({ state: "stale", reason: "Departures as of 10:50 (10 min ago): not refreshed since." });
  });

  it("is stale when the dashboard itself has not reached the API for 3 minutes", () => {
    const result = assessFreshness(t, { fetchedAtMs: NOW - (STALE_AFTER_SECONDS + 20) * 1000, nowMs: NOW });
    expect(result.state).toBe("stale");
    expect(result.reason).toMatch(/has not reached the server since 10:56/);
  });

  it("has nothing to show when the line never delivered", () => {
    expect(assessFreshness(t, { freshness: freshness({ last_success_at: null, status: "never" }), nowMs: NOW })).toMatchObject({
      state: "none",
      ageSeconds: null,
    });
  });
});

describe("worstFreshness", () => {
  it("picks the oldest or API-flagged stale line", () => {
    const fresh = freshness();
    const old = freshness({ last_success_at: ago(60) });
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

describe("in French", () => {
  const tfr = createTranslator({ locale: "fr", messages: fr, namespace: "freshness" });

  it("writes the line sentence in French, with the upstream-free reason phrase", () => {
    expect(lineSentence(tfr, freshness({ status: "failed", reason: "unreachable" }), NOW)).toBe(
      "Pas de données en direct : le service des passages est injoignable ; dernière mise à jour à 10:59.",
    );
  });

  it("has a French phrase for every reason code", () => {
    for (const reason of Object.keys(en.freshness.reasons) as (keyof typeof en.freshness.reasons)[]) {
      expect(fr.freshness.reasons[reason]).not.toBe(en.freshness.reasons[reason]);
    }
  });
});
