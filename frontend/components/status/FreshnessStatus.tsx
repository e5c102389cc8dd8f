"use client";

import type { Freshness } from "@/lib/api/types";
import { errorMessage } from "@/lib/api/errors";
import { assessFreshness } from "@/lib/format/freshness";
import { formatAge, formatClockSeconds } from "@/lib/format/time";

interface FreshnessStatusProps {
  /** When the dashboard last received data (TanStack Query's dataUpdatedAt). */
  fetchedAtMs: number;
  /** The source freshness of what is shown; omit on pages that aggregate many lines. */
  freshness?: Freshness | null;
  /** The last refetch error, while previous data stays on screen. */
  error?: unknown;
  isFetching?: boolean;
  now: number;
}

/**
 * "Updated 14:05:09 · 12 s ago", turning into a warning when the data is stale. The ticking age is not a
 * live region; a separate polite region only changes when the state changes (fresh, stale, failing).
 */
export function FreshnessStatus({ fetchedAtMs, freshness, error, isFetching, now }: FreshnessStatusProps) {
  const assessment = assessFreshness({ freshness, fetchedAtMs, nowMs: now });
  const stale = assessment.stale;
  const state = error ? "error" : stale ? "stale" : "fresh";
  const announcement =
    state === "error"
      ? "Could not refresh the data; showing the last data received."
      : state === "stale"
        ? `Warning: data may be out of date, ${assessment.reason ?? "no recent update"}.`
        : "";
  return (
    <div className={`freshness freshness-${state}`} data-testid="freshness" data-state={state}>
      <span className="freshness-line">
        <span aria-hidden="true" className={`freshness-dot${isFetching ? " is-fetching" : ""}`} />
        {fetchedAtMs ? (
          <>
            Updated {formatClockSeconds(fetchedAtMs)}
            <span className="freshness-age"> · {formatAge((now - fetchedAtMs) / 1000)} ago</span>
          </>
        ) : (
          "Loading…"
        )}
        {freshness?.source ? <span className="freshness-source"> · source {freshness.source}</span> : null}
      </span>
      {stale ? (
        <span className="freshness-warning">
          <span aria-hidden="true">⚠ </span>
          Data may be out of date: {assessment.reason}.
        </span>
      ) : null}
      {error ? (
        <span className="freshness-warning">
          <span aria-hidden="true">⚠ </span>
          Could not refresh ({errorMessage(error)}); showing the last data received.
        </span>
      ) : null}
      <span className="visually-hidden" aria-live="polite">
        {announcement}
      </span>
    </div>
  );
}
