/**
 * Whether the data on screen is live, and the one short sentence a rider reads when it is not. The API says per
 * line and per stop how its latest fetch went (`status`), why data is missing (`reason`, a code) and when data last
 * arrived (`last_success_at`); this module turns that into a state (live, stale, none) and a sentence written in
 * `lib/text`. Technical detail (errors, source names) never reaches these sentences: it stays in the system API.
 *
 * Data also turns stale while a page stays open: when its last success becomes older than the API's window
 * (`stale_after_seconds`), or when the dashboard itself has not reached the API for 3 minutes.
 */
import type { Freshness, LinesSummary, Meta, StopFreshness } from "@/lib/api/types";
import { text } from "@/lib/text/en";

import { formatAge, formatSince, parseTime } from "./time";

/** The window used when the API does not give one, and for the dashboard's own fetches. */
export const STALE_AFTER_SECONDS = 180;

/** live: fresh data; stale: data shown is older than the window; none: nothing to show. */
export type DataState = "live" | "stale" | "none";

/** A line's freshness or one stop's: the stop's has no `partial` (a stop either answered or not) and no window. */
type AnyFreshness = Pick<Freshness | StopFreshness, "status" | "reason" | "last_success_at" | "fetched_at" | "stale"> & {
  stale_after_seconds?: number;
};

/** Seconds since the data last arrived, at `nowMs`; null when it never did. */
export function dataAgeSeconds(freshness: Pick<AnyFreshness, "last_success_at">, nowMs: number): number | null {
  const last = parseTime(freshness.last_success_at);
  return last === null ? null : Math.max(0, (nowMs - last) / 1000);
}

function isOld(freshness: AnyFreshness, nowMs: number, staleAfterSeconds?: number): boolean {
  if (freshness.stale || freshness.status === "stale") return true;
  const age = dataAgeSeconds(freshness, nowMs);
  const window = staleAfterSeconds ?? freshness.stale_after_seconds ?? STALE_AFTER_SECONDS;
  return age !== null && age > window;
}

/** The state of a line's (or one stop's) data at `nowMs`. */
export function dataState(
  freshness: AnyFreshness | null | undefined,
  nowMs: number,
  staleAfterSeconds?: number,
): DataState {
  if (!freshness) return "none";
  const hasData = parseTime(freshness.last_success_at) !== null;
  switch (freshness.status) {
    case "never":
    case "no_data":
      return "none";
    case "failed":
      return hasData ? "stale" : "none";
    default:
      if (!hasData) return "none";
      return isOld(freshness, nowMs, staleAfterSeconds) ? "stale" : "live";
  }
}

/**
 * The sentence for a line whose data is not fully live, or null when it is:
 * "No live data: the departures service is unreachable; last update 07:12."
 */
export function lineSentence(freshness: Freshness | null | undefined, nowMs: number): string | null {
  if (!freshness) return text.line.neverFetched(null);
  const why = text.reason(freshness.reason);
  const last = parseTime(freshness.last_success_at);
  const lastClock = last === null ? null : formatSince(last, nowMs);
  switch (freshness.status) {
    case "never":
      return text.line.neverFetched(why);
    case "failed":
      return text.line.noLiveData(why, lastClock);
    case "no_data":
      return text.line.noDepartures(parseTime(freshness.fetched_at) === null ? null : formatSince(freshness.fetched_at, nowMs));
    default:
      if (last === null || lastClock === null) return text.line.noLiveData(why, null);
      if (isOld(freshness, nowMs)) return text.line.stale(lastClock, formatAge(dataAgeSeconds(freshness, nowMs)));
      if (freshness.status === "partial") return text.line.partial(freshness.stops_failed, freshness.stops_total);
      return null;
  }
}

/**
 * The short note beside one stop's board when it is not live ("as of 07:12 (9 min ago)"), or null. A stop never
 * fetched gets none: its line's sentence says so once rather than at every stop.
 */
export function stopNote(
  stop: StopFreshness | null | undefined,
  nowMs: number,
  staleAfterSeconds?: number,
): { label: string; spoken: string } | null {
  if (!stop || stop.status === "no_data" || stop.status === "never") return null;
  const state = dataState(stop, nowMs, staleAfterSeconds);
  if (state === "live") return null;
  const last = parseTime(stop.last_success_at);
  if (last === null) return { label: text.stop.noLiveData, spoken: text.stop.noLiveData };
  const clock = formatSince(last, nowMs);
  const age = formatAge(dataAgeSeconds(stop, nowMs));
  return { label: text.stop.asOf(clock, age), spoken: text.stop.asOfSpoken(clock, age) };
}

export interface NetworkStatus {
  state: DataState;
  headline: string;
  /** Why nothing (or not everything) is live, with the last update; null when every line is live. */
  sentence: string | null;
  /** When the newest data of any line arrived. */
  lastSuccessMs: number | null;
}

/** The home page's headline and status, from the catalogue's summary and how the deployment runs. */
export function networkStatus(
  summary: LinesSummary,
  meta: Pick<Meta, "demo_mode" | "prim_configured"> | undefined,
  nowMs: number,
): NetworkStatus {
  const demo = meta?.demo_mode ?? false;
  const lastSuccessMs = parseTime(summary.last_success_at);
  if (summary.lines_total === 0) {
    return { state: "none", headline: text.home.headline, sentence: text.home.noLinesKnown, lastSuccessMs };
  }
  if (summary.lines_live > 0) {
    // In demo mode the headline (and the demo banner) already say the data is replayed.
    const partial = summary.lines_live < summary.lines_total;
    return {
      state: "live",
      headline: demo ? text.home.headlineDemo : text.home.headlineLive,
      sentence: partial ? text.home.someLinesLive(summary.lines_live, summary.lines_total) : null,
      lastSuccessMs,
    };
  }
  const reasons: string[] = [];
  if ((meta && !meta.prim_configured) || summary.reason === "no_key") reasons.push(text.home.noKey);
  if (summary.reason && summary.reason !== "no_key" && summary.reason !== "not_fetched") {
    reasons.push(text.reason(summary.reason) ?? text.home.whyUnknown);
  }
  if (!reasons.length) {
    const never = summary.reason === "not_fetched" || lastSuccessMs === null;
    reasons.push(never ? text.home.neverFetched : text.home.whyUnknown);
  }
  const why = reasons.join(text.home.and);
  const sentence = text.home.noLineLive(why, lastSuccessMs === null ? null : formatSince(lastSuccessMs, nowMs));
  return {
    state: lastSuccessMs === null ? "none" : "stale",
    headline: demo ? text.home.headlineDemo : text.home.headline,
    sentence: demo ? `${sentence} ${text.home.demoReplayed}` : sentence,
    lastSuccessMs,
  };
}

/**
 * The stalest of several lines' freshness, for a board that mixes lines. Lines that never delivered anything
 * are left out while others did: they get their own note instead of a board-wide warning.
 */
export function worstFreshness(items: readonly (Freshness | null | undefined)[], nowMs: number): Freshness | null {
  const present = items.filter((item): item is Freshness => !!item);
  const delivered = present.filter((item) => item.last_success_at);
  let worst: Freshness | null = null;
  let worstScore = -1;
  for (const item of delivered.length ? delivered : present) {
    const age = dataAgeSeconds(item, nowMs) ?? Number.POSITIVE_INFINITY;
    const score = dataState(item, nowMs) === "live" ? age : age + 1e15;
    if (score > worstScore) {
      worst = item;
      worstScore = score;
    }
  }
  return worst;
}

export interface FreshnessAssessment {
  state: DataState;
  /** Seconds since the data shown was produced (or since the dashboard last fetched); null when unknown. */
  ageSeconds: number | null;
  /** Why the data is not live, for the warning; null when it is. */
  reason: string | null;
}

export interface FreshnessInput {
  /** The freshness of the line(s) shown, from the API; omit where a page states it otherwise. */
  freshness?: Freshness | null;
  /** When the dashboard last fetched successfully (TanStack Query's dataUpdatedAt), 0 when never. */
  fetchedAtMs?: number;
  nowMs: number;
}

/** The state of what a page shows: the API's freshness, and whether the dashboard itself still reaches the API. */
export function assessFreshness({ freshness, fetchedAtMs, nowMs }: FreshnessInput): FreshnessAssessment {
  const fetchAge = fetchedAtMs ? (nowMs - fetchedAtMs) / 1000 : null;
  if (fetchAge !== null && fetchAge > STALE_AFTER_SECONDS) {
    return {
      state: "stale",
      ageSeconds: fetchAge,
      reason: text.status.dashboardUnreachable(formatSince(fetchedAtMs ?? null, nowMs)),
    };
  }
  if (freshness === undefined) return { state: "live", ageSeconds: fetchAge, reason: null };
  const state = dataState(freshness, nowMs);
  const ageSeconds = freshness ? dataAgeSeconds(freshness, nowMs) : null;
  return { state, ageSeconds, reason: state === "live" ? null : lineSentence(freshness, nowMs) };
}
