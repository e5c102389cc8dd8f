"use client";

import { useTranslations } from "next-intl";

import type { Freshness } from "@/lib/api/types";
import { errorMessage } from "@/lib/api/errors";
import { assessFreshness, type DataState, type NetworkStatus } from "@/lib/format/freshness";
import { formatAge, formatClockSeconds, parseTime } from "@/lib/format/time";

interface FreshnessStatusProps {
  /** When the dashboard last received data (TanStack Query's dataUpdatedAt). */
  fetchedAtMs: number;
  /** The freshness of the line(s) shown; the dot is green only while it is live. */
  freshness?: Freshness | null;
  /** The whole network's state, on the home page. */
  network?: NetworkStatus;
  /** The last refetch error, while previous data stays on screen. */
  error?: unknown;
  isFetching?: boolean;
  now: number;
}

/**
 * "Updated 14:05:09 · 12 s ago" with a green dot while the data shown is live; "Not refreshed since 14:05" when it
 * is stale, "No live data" when there is none (never a green dot then). Pages put the sentence saying why beside
 * it; this says so itself only when the dashboard cannot reach the API. Operator pages (no `freshness`, no
 * `network`) show the API's own error. The ticking age is not a live region; a polite region changes with the state.
 */
export function FreshnessStatus({ fetchedAtMs, freshness, network, error, isFetching, now }: FreshnessStatusProps) {
  const t = useTranslations("freshness.status");
  const tf = useTranslations("freshness");
  const rider = freshness !== undefined || network !== undefined;
  const assessment = assessFreshness(tf, { freshness, fetchedAtMs, nowMs: now });
  const dashboardStale = assessment.state === "stale" && freshness === undefined;
  let dataState: DataState = assessment.state;
  let asOfMs: number | null = freshness ? parseTime(freshness.last_success_at) : fetchedAtMs || null;
  if (network && !dashboardStale) {
    dataState = network.state;
    asOfMs = network.lastSuccessMs;
  }
  const state = error ? "error" : dataState === "live" ? "fresh" : dataState;
  const announcement =
    state === "error"
      ? t("couldNotRefresh")
      : state === "stale"
        ? t("announceStale", {
            why:
              dashboardStale && assessment.reason
                ? assessment.reason
                : t("notRefreshedSince", { clock: formatClockSeconds(asOfMs) }),
          })
        : state === "none"
          ? t("announceNone")
          : "";
  const age = asOfMs === null ? null : formatAge((now - asOfMs) / 1000);
  return (
    <div className={`freshness freshness-${state}`} data-testid="freshness" data-state={state}>
      <span className="freshness-line">
        {dataState === "live" ? (
          <span aria-hidden="true" className={`freshness-dot${isFetching ? " is-fetching" : ""}`} />
        ) : (
          <span aria-hidden="true" className="freshness-icon">
            {dataState === "stale" ? "⚠" : "✕"}
          </span>
        )}
        {!fetchedAtMs ? (
          t("loading")
        ) : dataState === "live" ? (
          <>
            {t("updated", { clock: formatClockSeconds(asOfMs) })}
            <span className="freshness-age">{t("ago", { age: age ?? "—" })}</span>
          </>
        ) : dataState === "stale" && asOfMs !== null ? (
          <>
            {t("staleAsOf", { clock: formatClockSeconds(asOfMs) })}
            <span className="freshness-age">{t("ago", { age: age ?? "—" })}</span>
          </>
        ) : (
          <>
            {t("noLiveData")}
            <span className="freshness-age">{t("checked", { clock: formatClockSeconds(fetchedAtMs) })}</span>
          </>
        )}
      </span>
      {dashboardStale && assessment.reason ? (
        <span className="freshness-warning">
          <span aria-hidden="true">⚠ </span>
          {t("outOfDate", { why: assessment.reason })}
        </span>
      ) : null}
      {error ? (
        <span className="freshness-warning">
          <span aria-hidden="true">⚠ </span>
          {rider ? t("couldNotRefresh") : t("couldNotRefreshDetail", { error: errorMessage(error) })}
        </span>
      ) : null}
      <span className="visually-hidden" aria-live="polite">
        {announcement}
      </span>
    </div>
  );
}
