/**
 * Whether the data on screen is live, and the one short sentence a rider reads when it is not. The API says per
 * line and per stop how its latest fetch went (`status`), why data is missing (`reason`, a code) and when data last
 * arrived (`last_success_at`); this module turns that into a state (live, stale, none) and a sentence from the
 * message catalogues (`messages/`, namespace `freshness`), in the rider's language: callers pass the translator. Technical detail (errors, source names) never reaches these sentences: it stays in the system API.
 *
 * Data also turns stale while a page stays open: when its last success becomes older than the API's window
 * (`stale_after_seconds`), or when the dashboard itself has not reached the API for 3 minutes.
 */
import type { useTranslations } from "next-intl";

import type { Freshness, FreshnessReason, LinesSummary, Meta, StopFreshness } from "@/lib/api/types";

import { formatAge, formatSince, parseTime } from "./time";

/** The `freshness` messages in the rider's language: `useTranslations("freshness")` in a component. */
export type FreshnessText = ReturnType<typeof useTranslations<"freshness">>;

function reasonPhrase(t: FreshnessText, reason: FreshnessReason | null | undefined): string | null {
  return reason ? t(`reasons.${reason}`) : null;
}

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
export function lineSentence(t: FreshnessText, freshness: Freshness | null | undefined, nowMs: number): string | null {
  if (!freshness) return t("line.neverFetched", { why: t("reasons.not_fetched") });
  const why = reasonPhrase(t, freshness.reason);
  const last = parseTime(freshness.last_success_at);
  const lastClock = last === null ? null : formatSince(last, nowMs);
  const noLiveData = (clock: string | null) => {
    const reason = why ?? t("line.lastUpdateFailed");
    return clock ? t("line.noLiveDataSince", { why: reason, clock }) : t("line.noLiveData", { why: reason });
  };
  switch (freshness.status) {
    case "never":
      return t("line.neverFetched", { why: why ?? t("reasons.not_fetched") });
    case "failed":
      return noLiveData(lastClock);
    case "no_data":
      return parseTime(freshness.fetched_at) === null
        ? t("line.noDepartures")
        : t("line.noDeparturesAt", { clock: formatSince(freshness.fetched_at, nowMs) });
    default:
      if (last === null || lastClock === null) return noLiveData(null);
      if (isOld(freshness, nowMs)) {
        return t("line.stale", { clock: lastClock, age: formatAge(dataAgeSeconds(freshness, nowMs)) });
      }
      if (freshness.status === "partial") {
        const { stops_failed: failed, stops_total: total } = freshness;
        return failed !== null && total !== null
          ? t("line.partial", { failed, total })
          : t("line.partialUncounted");
      }
      return null;
  }
}

/**
 * The short note beside one stop's board when it is not live ("as of 07:12 (9 min ago)"), or null. A stop never
 * fetched gets none: its line's sentence says so once rather than at every stop.
 */
export function stopNote(
  t: FreshnessText,
  stop: StopFreshness | null | undefined,
  nowMs: number,
  staleAfterSeconds?: number,
): { label: string; spoken: string } | null {
  if (!stop || stop.status === "no_data" || stop.status === "never") return null;
  const state = dataState(stop, nowMs, staleAfterSeconds);
  if (state === "live") return null;
  const last = parseTime(stop.last_success_at);
  if (last === null) return { label: t("stop.noLiveData"), spoken: t("stop.noLiveData") };
  const clock = formatSince(last, nowMs);
  const age = formatAge(dataAgeSeconds(stop, nowMs));
  return { label: t("stop.asOf", { clock, age }), spoken: t("stop.asOfSpoken", { clock, age }) };
}

export type NetworkHeadline = "headline" | "headlineLive" | "headlineDemo";

export interface NetworkStatus {
  state: DataState;
  /** Which headline the home page shows (a key of the `home` messages). */
  headline: NetworkHeadline;
  /** Why nothing (or not everything) is live, with the last update; null when every line is live. */
  sentence: string | null;
  /** When the newest data of any line arrived. */
  lastSuccessMs: number | null;
}

/**
 * The home page's headline and status, from the catalogue's summary and how the deployment runs. "Live" is claimed
 * only when some line is live and the deployment is not a demo.
 */
export function networkStatus(
  t: FreshnessText,
  summary: LinesSummary,
  meta: Pick<Meta, "demo_mode" | "prim_configured"> | undefined,
  nowMs: number,
): NetworkStatus {
  const demo = meta?.demo_mode ?? false;
  const lastSuccessMs = parseTime(summary.last_success_at);
  if (summary.lines_total === 0) {
    return { state: "none", headline: "headline", sentence: t("home.noLinesKnown"), lastSuccessMs };
  }
  if (summary.lines_live > 0) {
    // In demo mode the headline (and the demo banner) already say the data is replayed.
    const partial = summary.lines_live < summary.lines_total;
    return {
      state: "live",
      headline: demo ? "headlineDemo" : "headlineLive",
      sentence: partial ? t("home.someLinesLive", { live: summary.lines_live, total: summary.lines_total }) : null,
      lastSuccessMs,
    };
  }
  const reasons: string[] = [];
  if ((meta && !meta.prim_configured) || summary.reason === "no_key") reasons.push(t("home.noKey"));
  if (summary.reason && summary.reason !== "no_key" && summary.reason !== "not_fetched") {
    reasons.push(reasonPhrase(t, summary.reason) ?? t("home.whyUnknown"));
  }
  if (!reasons.length) {
    const never = summary.reason === "not_fetched" || lastSuccessMs === null;
    reasons.push(never ? t("home.neverFetched") : t("home.whyUnknown"));
  }
  const why = reasons.join(t("home.and"));
  const sentence =
    lastSuccessMs === null
      ? t("home.noLineLive", { why })
      : t("home.noLineLiveSince", { why, clock: formatSince(lastSuccessMs, nowMs) });
  return {
    state: lastSuccessMs === null ? "none" : "stale",
    headline: demo ? "headlineDemo" : "headline",
    sentence: demo ? `${sentence} ${t("home.demoReplayed")}` : sentence,
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
export function assessFreshness(t: FreshnessText, { freshness, fetchedAtMs, nowMs }: FreshnessInput): FreshnessAssessment {
  const fetchAge = fetchedAtMs ? (nowMs - fetchedAtMs) / 1000 : null;
  if (fetchAge !== null && fetchAge > STALE_AFTER_SECONDS) {
    return {
      state: "stale",
      ageSeconds: fetchAge,
      reason: t("status.dashboardUnreachable", { clock: formatSince(fetchedAtMs ?? null, nowMs) }),
    };
  }
  if (freshness === undefined) return { state: "live", ageSeconds: fetchAge, reason: null };
  const state = dataState(freshness, nowMs);
  const ageSeconds = freshness ? dataAgeSeconds(freshness, nowMs) : null;
  return { state, ageSeconds, reason: state === "live" ? null : lineSentence(t, freshness, nowMs) };
}
