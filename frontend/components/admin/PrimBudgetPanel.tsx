"use client";

import { useTranslations } from "next-intl";

import { errorMessage } from "@/lib/api/errors";
import { useBudget, useRetryPrimKey } from "@/lib/api/queries";
import type { BudgetReport } from "@/lib/api/types";
import { formatAge, formatClock, formatClockSeconds } from "@/lib/format/time";

type BudgetText = ReturnType<typeof useTranslations<"budget">>;
type ApiBudget = BudgetReport["apis"][number];

function every(t: BudgetText, seconds: number | null | undefined): string {
  return seconds === null || seconds === undefined ? t("never") : formatAge(seconds);
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function apiName(t: BudgetText, api: string): string {
  if (api === "departures") return t("apiDepartures");
  if (api === "traffic") return t("apiTraffic");
  if (api === "disruptions") return t("apiDisruptions");
  if (api === "navitia") return t("apiNavitia");
  return api;
}

function limits(t: BudgetText, api: ApiBudget): string {
  return (
    t("perDay", { count: api.daily_limit }) +
    (api.per_second_limit ? t("perSecond", { count: api.per_second_limit }) : "") +
    (api.daily_limit_source === "prim" ? "" : t("configured"))
  );
}

function KeyProblem({ report }: { report: BudgetReport }) {
  const t = useTranslations("budget");
  const retry = useRetryPrimKey();
  if (report.key.state !== "rejected") return null;
  return (
    <div className="outcome-error" role="alert" data-testid="prim-key-rejected">
      <p>
        {t("keyRejected", {
          message: report.key.message ?? t("keyRejectedDefault"),
          since: formatClockSeconds(report.key.since),
        })}
      </p>
      <button
        type="button"
        className="button"
        disabled={retry.isPending}
        onClick={() => retry.mutate()}
        data-testid="prim-key-retry"
      >
        {retry.isPending ? t("retrying") : t("retry")}
      </button>
      {retry.data ? <p className="small">{retry.data.cleared ? t("retriedCleared") : t("retriedNothing")}</p> : null}
      {retry.isError ? <p className="small">{t("retryFailed", { error: errorMessage(retry.error) })}</p> : null}
    </div>
  );
}

/** What the PRIM key allows and has left per API, and the refresh plan that follows: GET /api/system/budget. */
export function PrimBudgetPanel() {
  const t = useTranslations("budget");
  const budget = useBudget();
  const report = budget.data;
  return (
    <section id="budget" className="card" aria-labelledby="budget-title" data-testid="prim-budget">
      <h2 id="budget-title">{t("title")}</h2>
      {budget.isError && !report ? <p className="outcome-error">{errorMessage(budget.error)}</p> : null}
      {report && !report.budgeted ? <p className="muted">{t("notBudgeted")}</p> : null}
      {report?.budgeted ? (
        <>
          <KeyProblem report={report} />
          {/* Focusable so that a keyboard can scroll it where the table is wider than a phone. */}
          <div className="table-scroll" tabIndex={0} role="region" aria-labelledby="budget-title">
            <table className="data-table" data-testid="budget-apis">
              <thead>
                <tr>
                  <th scope="col">{t("colApi")}</th>
                  <th scope="col">{t("colLimits")}</th>
                  <th scope="col">{t("colUsed")}</th>
                  <th scope="col">{t("colRemaining")}</th>
                  <th scope="col">{t("colRefused")}</th>
                  <th scope="col">{t("colHeldBack")}</th>
                  <th scope="col">{t("colReset")}</th>
                  <th scope="col">{t("colPlanned")}</th>
                </tr>
              </thead>
              <tbody>
                {report.apis.map((api) => (
                  <tr key={api.api} data-testid={`budget-api-${api.api}`}>
                    <td>{apiName(t, api.api)}</td>
                    <td>{limits(t, api)}</td>
                    <td>{api.used_today}</td>
                    <td data-testid={`budget-remaining-${api.api}`}>{api.remaining}</td>
                    <td className={api.refused_today ? "text-danger" : undefined}>{api.refused_today}</td>
                    <td>{api.held_back_today}</td>
                    <td className="mono">{formatClock(api.reset_at)}</td>
                    <td data-testid={`budget-planned-${api.api}`}>
                      {api.planned_per_day === null || api.planned_per_day === undefined
                        ? "—"
                        : Math.round(api.planned_per_day)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {report.rate_per_second !== null ? (
            <p className="small">{t("pace", { perMinute: (report.rate_per_second * 60).toFixed(1) })}</p>
          ) : null}
          <p className="small" data-testid="budget-periodic" data-covered={report.periodic_covered}>
            {report.periodic_covered
              ? t("periodicCovered", { every: every(t, report.periodic_interval_seconds) })
              : t("periodicShort", {
                  every: every(t, report.periodic_interval_seconds),
                  wanted: formatAge(report.periodic_wanted_seconds),
                })}
          </p>
          <p className="small" data-testid="budget-demand">
            {report.viewed_lines.length
              ? t("demand", {
                  count: report.viewed_lines.length,
                  every: every(t, report.demand_interval_seconds),
                  share: percent(report.demand_share),
                })
              : t("noDemand", { share: percent(report.demand_share) })}
          </p>
          <p className="small" data-testid="budget-feed">
            {report.traffic_feed_interval_seconds !== null && report.traffic_feed_interval_seconds !== undefined
              ? t("feed", { every: formatAge(report.traffic_feed_interval_seconds) })
              : t("feedOff")}
          </p>
          {report.night_weight < 1 ? <p className="small">{t("night", { share: percent(report.night_weight) })}</p> : null}
          <details>
            <summary>{t("linesSummary", { count: report.lines.length })}</summary>
            <div className="table-scroll" tabIndex={0} role="region" aria-label={t("linesSummary", { count: report.lines.length })}>
              <table className="data-table" data-testid="budget-lines">
                <thead>
                  <tr>
                    <th scope="col">{t("colLine")}</th>
                    <th scope="col">{t("colCost")}</th>
                    <th scope="col">{t("colInterval")}</th>
                    <th scope="col">{t("colPerDay")}</th>
                    <th scope="col">{t("colViewed")}</th>
                  </tr>
                </thead>
                <tbody>
                  {report.lines.map((line) => (
                    <tr key={line.line_id}>
                      <td>{line.line_id}</td>
                      <td>{line.cost}</td>
                      <td>{every(t, line.interval_seconds)}</td>
                      <td>{Math.round(line.requests_per_day)}</td>
                      <td>{line.viewed ? t("yes") : ""}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        </>
      ) : null}
    </section>
  );
}
