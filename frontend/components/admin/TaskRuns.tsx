"use client";

import { useState } from "react";

import { errorMessage } from "@/lib/api/errors";
import { TASK_STATUSES, useTaskRuns, type TaskStatusFilter } from "@/lib/api/queries";
import { formatClockSeconds, formatDuration, parseTime } from "@/lib/format/time";

import { StatusPill } from "./StatusPill";

function runDuration(started: string | null, finished: string | null): string {
  const a = parseTime(started);
  const b = parseTime(finished);
  return a !== null && b !== null ? formatDuration(b - a) : "—";
}

export function TaskRuns() {
  const [status, setStatus] = useState<TaskStatusFilter>("");
  const tasks = useTaskRuns(status);
  const items = tasks.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <section className="card" aria-labelledby="tasks-title">
      <div className="section-head">
        <h2 id="tasks-title">Recent task runs</h2>
        <label className="inline-form">
          Status
          <select
            value={status}
            onChange={(event) => setStatus(event.target.value as TaskStatusFilter)}
            data-testid="task-status-filter"
          >
            <option value="">all</option>
            {TASK_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      {tasks.isError && !tasks.data ? <p className="outcome-error">{errorMessage(tasks.error)}</p> : null}
      {items.length ? (
        <div className="table-scroll">
          <table className="data-table" data-testid="task-table">
            <thead>
              <tr>
                <th scope="col">Scheduled</th>
                <th scope="col">Line</th>
                <th scope="col">Status</th>
                <th scope="col">Attempt</th>
                <th scope="col">Worker</th>
                <th scope="col">Trigger</th>
                <th scope="col">Took</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {items.map((task) => (
                <tr key={task.id} data-testid="task-row" data-scheduled-at={task.scheduled_at}>
                  <td className="mono">{formatClockSeconds(task.scheduled_at)}</td>
                  <td>{task.line_id}</td>
                  <td>
                    <StatusPill status={task.status} />
                  </td>
                  <td>
                    {task.attempt}/{task.max_attempts}
                  </td>
                  <td className="mono small">{task.worker_id ?? "—"}</td>
                  <td>{task.trigger}</td>
                  <td>{runDuration(task.started_at, task.finished_at)}</td>
                  <td className="text-danger small error-cell" title={task.error ?? undefined}>
                    {task.error ?? ""}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : tasks.isSuccess ? (
        <p className="empty">No task run{status ? ` with status ${status}` : ""}.</p>
      ) : null}
      {tasks.hasNextPage ? (
        <button
          type="button"
          className="button"
          onClick={() => tasks.fetchNextPage()}
          disabled={tasks.isFetchingNextPage}
        >
          {tasks.isFetchingNextPage ? "Loading…" : "Load older runs"}
        </button>
      ) : null}
    </section>
  );
}
