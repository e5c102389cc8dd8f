"use client";

import { useTranslations } from "next-intl";
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
  const t = useTranslations("admin.tasks");
  const [status, setStatus] = useState<TaskStatusFilter>("");
  const tasks = useTaskRuns(status);
  const items = tasks.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <section className="card" aria-labelledby="tasks-title" id="tasks">
      <div className="section-head">
        <h2 id="tasks-title">{t("title")}</h2>
        <label className="inline-form">
          {t("status")}
          <select
            value={status}
            onChange={(event) => setStatus(event.target.value as TaskStatusFilter)}
            data-testid="task-status-filter"
          >
            <option value="">{t("all")}</option>
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
        <div className="table-scroll" tabIndex={0} role="region" aria-labelledby="tasks-title">
          <table className="data-table stacks" data-testid="task-table">
            <thead>
              <tr>
                <th scope="col">{t("scheduled")}</th>
                <th scope="col">{t("line")}</th>
                <th scope="col">{t("status")}</th>
                <th scope="col">{t("attempt")}</th>
                <th scope="col">{t("worker")}</th>
                <th scope="col">{t("trigger")}</th>
                <th scope="col">{t("took")}</th>
                <th scope="col">{t("error")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((task) => (
                <tr key={task.id} data-testid="task-row" data-scheduled-at={task.scheduled_at}>
                  <td className="mono" data-label={t("scheduled")}>
                    {formatClockSeconds(task.scheduled_at)}
                  </td>
                  <td data-label={t("line")}>{task.line_id}</td>
                  <td data-label={t("status")}>
                    <StatusPill status={task.status} />
                  </td>
                  <td data-label={t("attempt")}>
                    {task.attempt}/{task.max_attempts}
                  </td>
                  <td className="mono small" data-label={t("worker")}>
                    {task.worker_id ?? "—"}
                  </td>
                  <td data-label={t("trigger")}>{task.trigger}</td>
                  <td data-label={t("took")}>{runDuration(task.started_at, task.finished_at)}</td>
                  <td className="text-danger small error-cell" data-label={t("error")} title={task.error ?? undefined}>
                    {task.error ?? ""}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : tasks.isSuccess ? (
        <p className="empty">{status ? t("noneWithStatus", { status }) : t("none")}</p>
      ) : null}
      {tasks.hasNextPage ? (
        <button
          type="button"
          className="button"
          onClick={() => tasks.fetchNextPage()}
          disabled={tasks.isFetchingNextPage}
        >
          {tasks.isFetchingNextPage ? t("loading") : t("older")}
        </button>
      ) : null}
    </section>
  );
}
