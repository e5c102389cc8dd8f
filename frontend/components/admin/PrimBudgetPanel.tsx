"use client";

import { errorMessage } from "@/lib/api/errors";
import { useBudget, useRetryPrimKey } from "@/lib/api/queries";
import type { BudgetReport } from "@/lib/api/types";
import { formatAge, formatClock, formatClockSeconds } from "@/lib/format/time";
import { budgetText } from "@/lib/text/budget";

const t = budgetText.panel;

function every(seconds: number | null | undefined): string {
  return seconds === null || seconds === undefined ? t.never : formatAge(seconds);
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function KeyProblem({ report }: { report: BudgetReport }) {
  const retry = useRetryPrimKey();
  if (report.key.state !== "rejected") return null;
  return (
    <div className="outcome-error" role="alert" data-testid="prim-key-rejected">
      <p>{t.keyRejected(report.key.message ?? "PRIM rejected the API key", formatClockSeconds(report.key.since))}</p>
      <button
        type="button"
        className="button"
        disabled={retry.isPending}
        onClick={() => retry.mutate()}
        data-testid="prim-key-retry"
      >
        {retry.isPending ? t.retrying : t.retry}
      </button>
      {retry.data ? <p className="small">{t.retried(retry.data.cleared)}</p> : null}
      {retry.isError ? <p className="small">{t.retryFailed(errorMessage(retry.error))}</p> : null}
    </div>
  );
}

/** What the PRIM key allows and has left per API, and the refresh plan that follows: GET /api/system/budget. */
export function PrimBudgetPanel() {
  const budget = useBudget();
  const report = budget.data;
  return (
    <section className="card" aria-labelledby="budget-title" data-testid="prim-budget">
      <h2 id="budget-title">{t.title}</h2>
      {budget.isError && !report ? <p className="outcome-error">{errorMessage(budget.error)}</p> : null}
      {report && !report.budgeted ? <p className="muted">{t.notBudgeted}</p> : null}
      {report?.budgeted ? (
        <>
          <KeyProblem report={report} />
          <div className="table-scroll">
            <table className="data-table" data-testid="budget-apis">
              <thead>
                <tr>
                  <th scope="col">{t.apiColumns.api}</th>
                  <th scope="col">{t.apiColumns.limits}</th>
                  <th scope="col">{t.apiColumns.used}</th>
                  <th scope="col">{t.apiColumns.remaining}</th>
                  <th scope="col">{t.apiColumns.refused}</th>
                  <th scope="col">{t.apiColumns.heldBack}</th>
                  <th scope="col">{t.apiColumns.reset}</th>
                </tr>
              </thead>
              <tbody>
                {report.apis.map((api) => (
                  <tr key={api.api} data-testid={`budget-api-${api.api}`}>
                    <td>{t.apiName[api.api] ?? api.api}</td>
                    <td>{t.limits(api.daily_limit, api.per_second_limit, api.daily_limit_source === "prim")}</td>
                    <td>{api.used_today}</td>
                    <td data-testid={`budget-remaining-${api.api}`}>{api.remaining}</td>
                    <td className={api.refused_today ? "text-danger" : undefined}>{api.refused_today}</td>
                    <td>{api.held_back_today}</td>
                    <td className="mono">{formatClock(api.reset_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {report.rate_per_second !== null ? (
            <p className="small">{t.pace((report.rate_per_second * 60).toFixed(1))}</p>
          ) : null}
          <p className="small" data-testid="budget-periodic">
            {t.periodic(
              every(report.periodic_interval_seconds),
              formatAge(report.periodic_wanted_seconds),
              report.periodic_covered,
            )}
          </p>
          <p className="small" data-testid="budget-demand">
            {report.viewed_lines.length
              ? t.demand(every(report.demand_interval_seconds), percent(report.demand_share), report.viewed_lines.length)
              : t.noDemand(percent(report.demand_share))}
          </p>
          <details>
            <summary>{t.linesSummary(report.lines.length)}</summary>
            <div className="table-scroll">
              <table className="data-table" data-testid="budget-lines">
                <thead>
                  <tr>
                    <th scope="col">{t.lineColumns.line}</th>
                    <th scope="col">{t.lineColumns.cost}</th>
                    <th scope="col">{t.lineColumns.interval}</th>
                    <th scope="col">{t.lineColumns.perDay}</th>
                    <th scope="col">{t.lineColumns.viewed}</th>
                  </tr>
                </thead>
                <tbody>
                  {report.lines.map((line) => (
                    <tr key={line.line_id}>
                      <td>{line.line_id}</td>
                      <td>{line.cost}</td>
                      <td>{every(line.interval_seconds)}</td>
                      <td>{Math.round(line.requests_per_day)}</td>
                      <td>{line.viewed ? t.yes : ""}</td>
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
