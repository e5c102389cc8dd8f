"use client";

import { useTranslations } from "next-intl";
import { useState } from "react";

import type { SourceCircuit, WorkerInfo } from "@/lib/api/types";
import { compactRanges } from "@/lib/format/ranges";
import { formatAge, formatClockSeconds } from "@/lib/format/time";

import { StatusPill } from "./StatusPill";

export const ACTIVE_WORKER_STATUSES: ReadonlySet<WorkerInfo["status"]> = new Set(["starting", "idle", "busy", "draining"]);

/** Workers whose last heartbeat is older than this are hidden by default: stopped workers of earlier runs. */
export const RECENT_WORKER_SECONDS = 3600;

export function isRecentWorker(worker: Pick<WorkerInfo, "status" | "heartbeat_age_seconds">): boolean {
  return ACTIVE_WORKER_STATUSES.has(worker.status) || (worker.heartbeat_age_seconds ?? Infinity) <= RECENT_WORKER_SECONDS;
}

/**
 * The worker fleet: by default the workers seen in the last hour (every active one among them), the others behind
 * a filter. Under 600 px the table becomes stacked rows, each cell labelled by its column.
 */
export function WorkerFleet({ workers }: { workers: readonly WorkerInfo[] }) {
  const t = useTranslations("admin.fleet");
  const [showAll, setShowAll] = useState(false);
  const active = workers.filter((w) => ACTIVE_WORKER_STATUSES.has(w.status)).length;
  const recent = workers.filter(isRecentWorker);
  const shown = showAll ? workers : recent;
  const hidden = workers.length - recent.length;
  return (
    <section className="card" aria-labelledby="fleet-title" id="fleet">
      <div className="section-head">
        <h2 id="fleet-title">
          {t("title")}{" "}
          <span className="muted small">
            <span data-testid="worker-active-count">{active}</span> {t("active")} ·{" "}
            <span data-testid="worker-total-count">{workers.length}</span> {t("registered")}
          </span>
        </h2>
        {hidden ? (
          <label className="inline-form">
            {t("show")}
            <select
              value={showAll ? "all" : "recent"}
              onChange={(event) => setShowAll(event.target.value === "all")}
              data-testid="worker-filter"
            >
              <option value="recent">{t("recent", { count: recent.length })}</option>
              <option value="all">{t("all", { count: workers.length })}</option>
            </select>
          </label>
        ) : null}
      </div>
      {hidden && !showAll ? (
        <p className="muted small" data-testid="worker-hidden-note">
          {t("hiddenOlder", { count: hidden })}
        </p>
      ) : null}
      {shown.length ? (
        <div className="table-scroll" tabIndex={0} role="region" aria-labelledby="fleet-title">
          <table className="data-table stacks" data-testid="worker-table">
            <thead>
              <tr>
                <th scope="col">{t("worker")}</th>
                <th scope="col">{t("status")}</th>
                <th scope="col">{t("heartbeat")}</th>
                <th scope="col">{t("host")}</th>
                <th scope="col">{t("current")}</th>
                <th scope="col" className="num">
                  {t("processed")}
                </th>
                <th scope="col" className="num">
                  {t("failed")}
                </th>
                <th scope="col">{t("partitions")}</th>
                <th scope="col">{t("circuits")}</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((worker) => (
                <tr key={worker.id} data-testid="worker-row" data-status={worker.status}>
                  <td
                    className="mono"
                    data-label={t("worker")}
                    title={t("started", { clock: formatClockSeconds(worker.started_at) })}
                  >
                    {worker.id}
                  </td>
                  <td data-label={t("status")}>
                    <StatusPill status={worker.status} />
                  </td>
                  <td data-label={t("heartbeat")} title={formatClockSeconds(worker.last_heartbeat_at)}>
                    {t("ago", { age: formatAge(worker.heartbeat_age_seconds) })}
                  </td>
                  <td className="mono" data-label={t("host")}>
                    {worker.host}:{worker.pid}
                  </td>
                  <td data-label={t("current")}>
                    <span>
                      {worker.current_line_id ?? "—"}
                      {worker.current_task_id ? (
                        <span className="muted small mono"> #{worker.current_task_id.slice(0, 8)}</span>
                      ) : null}
                      {worker.last_error ? (
                        <span className="text-danger small" title={worker.last_error}>
                          {" "}
                          ⚠
                        </span>
                      ) : null}
                    </span>
                  </td>
                  <td className="num" data-label={t("processed")}>
                    {worker.processed_count}
                  </td>
                  <td className={`num${worker.failed_count ? " text-danger" : ""}`} data-label={t("failed")}>
                    {worker.failed_count}
                  </td>
                  <td className="mono small" data-label={t("partitions")}>
                    {worker.assigned_partitions.length ? compactRanges(worker.assigned_partitions) : "—"}
                  </td>
                  <td className="small" data-label={t("circuits")} data-testid="worker-circuits">
                    <WorkerCircuits circuits={worker.circuits} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p className="empty">{t("none")}</p>
      )}
    </section>
  );
}

/**
 * The sources this worker holds back, from its last heartbeat: a paused source (its circuit open) with the time left,
 * a source being probed; "all reachable" when every circuit is closed. The last error is the item's tooltip.
 */
function WorkerCircuits({ circuits }: { circuits: readonly SourceCircuit[] }) {
  const t = useTranslations("admin.fleet");
  if (!circuits.length) return <span className="muted">—</span>;
  const held = circuits.filter((circuit) => circuit.state !== "closed");
  if (!held.length) return <span className="muted">{t("circuitsClosed")}</span>;
  return (
    <span>
      {held.map((circuit, index) => (
        <span
          key={circuit.name}
          className="text-danger"
          title={circuit.last_error ? t("circuitPausedAfter", { failures: circuit.consecutive_failures }) + ": " + circuit.last_error : undefined}
          data-circuit={circuit.name}
          data-state={circuit.state}
        >
          {index ? ", " : null}
          <span className="mono">{circuit.name}</span>{" "}
          {circuit.state === "open"
            ? t("circuitOpen", { seconds: Math.ceil(circuit.retry_in_seconds) })
            : t("circuitProbing", { failures: circuit.consecutive_failures })}
        </span>
      ))}
    </span>
  );
}
