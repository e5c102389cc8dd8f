/**
 * The dashboard's rider- and operator-facing sentences about data freshness, in English. Every such string is
 * written here, and only here, so that a later translation replaces this one module. Functions take already
 * formatted values (clock times, ages, counts); they never see technical error text.
 */
import type { FreshnessReason } from "@/lib/api/types";

/** Why data is missing or old, as the end of "No live data: …". */
const REASON: Record<FreshnessReason, string> = {
  no_key: "the departures service is not configured (no access key)",
  not_configured: "no departures service is set up",
  unreachable: "the departures service is unreachable",
  rate_limited: "the departures service is limiting requests for now",
  quota: "today's request allowance of the departures service is used up",
  rejected: "the departures service refused the request",
  blocked: "the departures service is blocking requests for now",
  upstream_error: "the departures service answered with an error",
  paused: "the departures service keeps failing, so updates are paused for a moment",
  no_stop_ids: "the stops of this line are not identified yet",
  not_fetched: "this line has not been fetched",
};

export const text = {
  /** Every reason code the API sends, with its phrase (the type fails when the API adds a code). */
  reasons: REASON as Readonly<Record<FreshnessReason, string>>,
  reason: (reason: FreshnessReason | null | undefined): string | null => (reason ? REASON[reason] : null),
  lastUpdateTail: (clock: string) => `; last update ${clock}`,

  line: {
    noLiveData: (why: string | null, lastUpdate: string | null) =>
      `No live data: ${why ?? "the last update failed"}${lastUpdate ? `; last update ${lastUpdate}` : ""}.`,
    neverFetched: (why: string | null) => `No live data yet: ${why ?? REASON.not_fetched}.`,
    partial: (failed: number | null, total: number | null) =>
      failed !== null && total !== null
        ? `Some stops could not be refreshed (${failed} of ${total}); their boards are older.`
        : "Some stops could not be refreshed; their boards are older.",
    stale: (clock: string, age: string) => `Departures as of ${clock} (${age} ago): not refreshed since.`,
    noDepartures: (clock: string | null) =>
      clock
        ? `No departures reported: the departures service answered at ${clock} without any.`
        : "No departures reported.",
  },

  stop: {
    asOf: (clock: string, age: string) => `as of ${clock} (${age} ago)`,
    asOfSpoken: (clock: string, age: string) => `Board not refreshed: departures as of ${clock}, ${age} ago`,
    noLiveData: "no live data",
    noDeparture: "no departure listed",
    noDepartureNow: "No departure listed right now.",
  },

  status: {
    updated: "Updated",
    checked: "Checked",
    agoSuffix: "ago",
    loading: "Loading…",
    live: "live",
    noLiveData: "No live data",
    staleAsOf: (clock: string) => `Not refreshed since ${clock}`,
    notRefreshedSince: (clock: string) => `not refreshed since ${clock}`,
    dashboardUnreachable: (clock: string) => `the dashboard has not reached the server since ${clock}`,
    outOfDate: (why: string) => `Data may be out of date: ${why}.`,
    couldNotRefresh: "Could not refresh; showing the last data received.",
    announceStale: (why: string) => `Warning: data may be out of date, ${why}.`,
    announceNone: "Warning: no live data.",
  },

  home: {
    headlineLive: "Next departures, live",
    headlineDemo: "Next departures (demo: replayed data)",
    headline: "Next departures",
    noLinesKnown: "No lines are known yet.",
    noKey: "no PRIM API key is configured",
    neverFetched: "no line has been fetched yet",
    demoReplayed: "This is a demo: departures are replayed recordings, not live service.",
    noLineLive: (why: string, lastUpdate: string | null) =>
      `No line has live data right now: ${why}${lastUpdate ? `; last update ${lastUpdate}` : ""}.`,
    someLinesLive: (live: number, total: number) =>
      `Live data on ${live} of ${total} lines; the others are stale or failing.`,
    and: " and ",
    whyUnknown: "the departures could not be refreshed",
  },

  traffic: {
    updated: (clock: string) => `Updated ${clock}`,
  },

  badge: {
    failed: "No live data",
    never: "Not fetched yet",
    noData: "No departures",
    stale: (age: string) => `Stale · ${age}`,
    staleNoAge: "Stale",
    partial: "Some stops stale",
  },

  network: {
    count: (n: number, label: string) => `${n} ${label} lines`,
    disrupted: (n: number) => ` · ${n} disrupted or closed`,
    noDisruption: " · no disruption reported",
    trafficUnknownAll: " · traffic status unknown",
    trafficUnknownSome: (n: number) => ` · no disruption reported, traffic status unknown for ${n}`,
    withoutLiveData: (n: number) => ` · ${n} without live data`,
  },

  health: {
    title: "Line health",
    allOk: "Every line is ok and every station has an id.",
    summary: (lines: number, withoutIds: number) =>
      `${lines} line${lines === 1 ? "" : "s"} need attention · ${withoutIds} station${withoutIds === 1 ? "" : "s"} without an id`,
    lastSuccess: "last success",
    never: "never",
    noReason: "no reason given",
    attempts: "Sources on the latest fetch",
    failedStops: (n: number) => `Failed stops (${n})`,
    withoutIds: (n: number) => `Stations without an id (${n})`,
    task: "task",
    ok: (items: number) => `ok, ${items} items`,
    failed: "failed",
    requests: (n: number) => `${n} request${n === 1 ? "" : "s"}`,
    showAll: (n: number) => `Show all ${n} lines`,
  },
} as const;
