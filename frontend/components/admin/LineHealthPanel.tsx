"use client";

import { useTranslations } from "next-intl";
import { useState } from "react";

import { errorMessage } from "@/lib/api/errors";
import { useLineHealth } from "@/lib/api/queries";
import type { LineHealth } from "@/lib/api/types";
import { formatAge, formatDayTime, formatDuration } from "@/lib/format/time";

import { StatusPill } from "./StatusPill";

/** Lines listed before "show all": in a network-wide outage every line is listed. */
const FIRST_LINES = 12;

function LineHealthItem({ line }: { line: LineHealth }) {
  const t = useTranslations("health");
  const problems = line.status !== "ok" || line.stale;
  return (
    <li className="health-item" data-testid="line-health-row" data-line-id={line.line_id} data-status={line.status}>
      <details>
        <summary>
          <span className="mono">{line.line_id}</span> <StatusPill status={line.status} />
          {line.stale && line.status !== "stale" ? <StatusPill status="stale" /> : null}{" "}
          {problems ? <span className="mono small">{line.reason ?? t("noReason")}</span> : null}
          <span className="muted small">
            {" "}
            · {t("lastSuccess")}{" "}
            {line.last_success_at ? t("ago", { age: formatAge(line.age_seconds) }) : t("never")}
            {line.failed_stops.length ? ` · ${t("failedStops", { count: line.failed_stops.length })}` : ""}
            {line.stations_without_ids.length ? ` · ${t("withoutIds", { count: line.stations_without_ids.length })}` : ""}
          </span>
          {line.error ? (
            <span className="health-error text-danger small" data-testid="line-health-error">
              {line.error}
            </span>
          ) : null}
        </summary>
        <div className="health-body">
          <p className="muted small">
            {formatDayTime(line.fetched_at)}
            {line.task_run_id ? (
              <>
                {" "}
                · {t("task")} <span className="mono">{line.task_run_id}</span>
              </>
            ) : null}
          </p>
          {line.attempts.length ? (
            <>
              <h3 className="small">{t("attempts")}</h3>
              <ul className="health-list">
                {line.attempts.map((attempt, i) => (
                  <li key={`${attempt.source}-${i}`}>
                    <span className="mono">{attempt.source}</span>:{" "}
                    {attempt.ok ? (
                      t("ok", { items: attempt.items })
                    ) : (
                      <span className="text-danger">{attempt.error ?? t("failed")}</span>
                    )}{" "}
                    <span className="muted">
                      ({t("requests", { count: attempt.requests })}, {formatDuration(attempt.duration_ms)})
                    </span>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
          {line.failed_stops.length ? (
            <>
              <h3 className="small">{t("failedStops", { count: line.failed_stops.length })}</h3>
              <ul className="health-list" data-testid="line-health-failed-stops">
                {line.failed_stops.map((stop) => (
                  <li key={stop.station_id}>
                    {stop.name} <span className="mono muted">{stop.station_id}</span> <StatusPill status={stop.status} />{" "}
                    <span className="mono">{stop.reason ?? t("noReason")}</span>
                    {stop.error ? <span className="text-danger"> · {stop.error}</span> : null}
                    <span className="muted">
                      {" "}
                      · {t("lastSuccess")} {stop.last_success_at ? formatDayTime(stop.last_success_at) : t("never")}
                    </span>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
          {line.stations_without_ids.length ? (
            <>
              <h3 className="small">{t("withoutIds", { count: line.stations_without_ids.length })}</h3>
              <ul className="health-list" data-testid="line-health-without-ids">
                {line.stations_without_ids.map((station) => (
                  <li key={station.station_id}>
                    {station.name} <span className="mono muted">{station.station_id}</span>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </div>
      </details>
    </li>
  );
}

/**
 * Lines that are not ok (or have stations without an id) with what riders are not told: the technical error,
 * each source's attempt, the stops that failed and why, and the stations still without an id.
 */
export function LineHealthPanel() {
  const t = useTranslations("health");
  const health = useLineHealth(true);
  const [showAll, setShowAll] = useState(false);
  const lines = health.data ?? [];
  const shown = showAll ? lines : lines.slice(0, FIRST_LINES);
  const withoutIds = lines.reduce((n, line) => n + line.stations_without_ids.length, 0);
  return (
    <section className="card" aria-labelledby="health-title" data-testid="line-health" id="health">
      <div className="section-head">
        <h2 id="health-title">{t("title")}</h2>
        {health.data ? (
          <span className="muted small" data-testid="line-health-summary">
            {lines.length ? t("summary", { lines: lines.length, withoutIds }) : t("allOk")}
          </span>
        ) : null}
      </div>
      {health.isError && !health.data ? <p className="outcome-error">{errorMessage(health.error)}</p> : null}
      {lines.length ? (
        <ul className="health-items">
          {shown.map((line) => (
            <LineHealthItem key={line.line_id} line={line} />
          ))}
        </ul>
      ) : null}
      {lines.length > shown.length ? (
        <button type="button" className="button" onClick={() => setShowAll(true)} data-testid="line-health-show-all">
          {t("showAll", { count: lines.length })}
        </button>
      ) : null}
    </section>
  );
}
