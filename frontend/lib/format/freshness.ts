/**
 * How old the data on screen is, and whether to warn about it. Data is stale when the API says so
 * (`Freshness.stale`: last success older than 3 scheduler intervals) or when it is older than 3 minutes,
 * counting both the source's last success and the dashboard's own last successful fetch.
 */
import type { Freshness, SourceAttempt } from "@/lib/api/types";

import { formatClock, parseTime } from "./time";

export const STALE_AFTER_SECONDS = 180;

export interface FreshnessAssessment {
  stale: boolean;
  /** Seconds since the newest data the screen shows was produced; null when there is none. */
  ageSeconds: number | null;
  /** Why the data is stale, for the warning; null when it is fresh. */
  reason: string | null;
}

export interface FreshnessInput {
  /** The source's freshness for the line(s) shown, from the API. */
  freshness?: Freshness | null;
  /** When the dashboard last fetched successfully (TanStack Query's dataUpdatedAt), 0 when never. */
  fetchedAtMs?: number;
  nowMs: number;
}

export function assessFreshness({ freshness, fetchedAtMs, nowMs }: FreshnessInput): FreshnessAssessment {
  const fetchAge = fetchedAtMs ? (nowMs - fetchedAtMs) / 1000 : null;
  if (fetchAge !== null && fetchAge > STALE_AFTER_SECONDS) {
    return {
      stale: true,
      ageSeconds: fetchAge,
      reason: `the dashboard has not reached the API since ${formatClock(fetchedAtMs)}`,
    };
  }
  if (!freshness) return { stale: false, ageSeconds: fetchAge, reason: null };

  const lastSuccess = parseTime(freshness.last_success_at);
  const sourceAge = lastSuccess === null ? null : Math.max(0, (nowMs - lastSuccess) / 1000);
  if (lastSuccess === null) {
    return { stale: true, ageSeconds: null, reason: "no source has delivered data yet" };
  }
  if (freshness.stale || (sourceAge !== null && sourceAge > STALE_AFTER_SECONDS)) {
    return { stale: true, ageSeconds: sourceAge, reason: `last live data at ${formatClock(lastSuccess)}` };
  }
  return { stale: false, ageSeconds: sourceAge, reason: null };
}

/**
 * The stalest of several lines' freshness, for a board that mixes lines. Lines that never delivered
 * anything are left out while others did: they get their own "no live data" note instead of a board-wide warning.
 */
export function worstFreshness(items: readonly (Freshness | null | undefined)[], nowMs: number): Freshness | null {
  const present = items.filter((item): item is Freshness => !!item);
  const delivered = present.filter((item) => item.last_success_at);
  let worst: Freshness | null = null;
  let worstAge = -1;
  for (const item of delivered.length ? delivered : present) {
    const lastSuccess = parseTime(item.last_success_at);
    const age = lastSuccess === null ? Number.POSITIVE_INFINITY : nowMs - lastSuccess;
    const score = item.stale ? age + 1e15 : age;
    if (score > worstAge) {
      worst = item;
      worstAge = score;
    }
  }
  return worst;
}

/**
 * The honest sentence for a line without departures: which source failed and when, or that none ran yet.
 * Returns null when the line has fresh data (an empty board then simply means no departures).
 */
export function describeMissingData(
  freshness: Freshness | null | undefined,
  attempts: readonly SourceAttempt[] = [],
): string | null {
  const failedAttempts = attempts.filter((attempt) => !attempt.ok);
  const attemptText = failedAttempts
    .map((attempt) => `${attempt.source}${attempt.error ? `: ${attempt.error}` : " failed"}`)
    .join("; ");
  if (!freshness || freshness.status === "never") {
    return "No live data for this line yet: no source has been fetched.";
  }
  const source = freshness.source ?? "unknown source";
  const at = formatClock(freshness.fetched_at);
  switch (freshness.status) {
    case "failed": {
      const why = freshness.error ?? attemptText;
      return `No live data for this line: source ${source} failed at ${at}${why ? ` (${why})` : ""}.`;
    }
    case "no_data":
      return `No live data for this line: source ${source} answered at ${at} without departures${
        attemptText ? ` (${attemptText})` : ""
      }.`;
    case "partial":
    case "ok":
      return null;
  }
}
