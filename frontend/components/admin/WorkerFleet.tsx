import type { WorkerInfo } from "@/lib/api/types";
import { compactRanges } from "@/lib/format/ranges";
import { formatAge, formatClockSeconds } from "@/lib/format/time";

import { StatusPill } from "./StatusPill";

export const ACTIVE_WORKER_STATUSES: ReadonlySet<WorkerInfo["status"]> = new Set(["starting", "idle", "busy", "draining"]);

export function WorkerFleet({ workers }: { workers: readonly WorkerInfo[] }) {
  const active = workers.filter((w) => ACTIVE_WORKER_STATUSES.has(w.status)).length;
  return (
    <section className="card" aria-labelledby="fleet-title">
      <h2 id="fleet-title">
        Worker fleet{" "}
        <span className="muted small">
          <span data-testid="worker-active-count">{active}</span> active ·{" "}
          <span data-testid="worker-total-count">{workers.length}</span> registered
        </span>
      </h2>
      {workers.length ? (
        <div className="table-scroll">
          <table className="data-table" data-testid="worker-table">
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Status</th>
                <th scope="col">Heartbeat</th>
                <th scope="col">Host</th>
                <th scope="col">Current</th>
                <th scope="col" className="num">
                  Processed
                </th>
                <th scope="col" className="num">
                  Failed
                </th>
                <th scope="col">Partitions</th>
              </tr>
            </thead>
            <tbody>
              {workers.map((worker) => (
                <tr key={worker.id} data-testid="worker-row" data-status={worker.status}>
                  <td className="mono" title={`started ${formatClockSeconds(worker.started_at)}`}>
                    {worker.id}
                  </td>
                  <td>
                    <StatusPill status={worker.status} />
                  </td>
                  <td title={formatClockSeconds(worker.last_heartbeat_at)}>
                    {formatAge(worker.heartbeat_age_seconds)} ago
                  </td>
                  <td className="mono">
                    {worker.host}:{worker.pid}
                  </td>
                  <td>
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
                  </td>
                  <td className="num">{worker.processed_count}</td>
                  <td className={`num${worker.failed_count ? " text-danger" : ""}`}>{worker.failed_count}</td>
                  <td className="mono small">
                    {worker.assigned_partitions.length ? compactRanges(worker.assigned_partitions) : "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p className="empty">No worker has registered yet.</p>
      )}
    </section>
  );
}
