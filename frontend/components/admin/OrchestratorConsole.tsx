"use client";

import { useTranslations } from "next-intl";

import { FreshnessStatus } from "@/components/status/FreshnessStatus";
import { QueryError } from "@/components/status/QueryError";
import { PageSections } from "@/components/ui/PageSections";
import { useDbSummary, useQueue, useWorkers } from "@/lib/api/queries";
import { useNow } from "@/lib/hooks/useNow";

import { DbSnapshot } from "./DbSnapshot";
import { LineHealthPanel } from "./LineHealthPanel";
import { QueueMetrics } from "./QueueMetrics";
import { RecentDepartures } from "./RecentDepartures";
import { ScaleControls } from "./ScaleControls";
import { SchedulerTrigger } from "./SchedulerTrigger";
import { TaskRuns } from "./TaskRuns";
import { ACTIVE_WORKER_STATUSES, WorkerFleet } from "./WorkerFleet";

/** The operator's console: everything polls every 3 s with the previous data kept on screen. */
export function OrchestratorConsole() {
  const t = useTranslations("admin");
  const queue = useQueue();
  const workers = useWorkers();
  const summary = useDbSummary();
  const now = useNow();

  const firstError = [queue, workers, summary].find((q) => q.isError && !q.data)?.error;
  const refetchError = [queue, workers, summary].find((q) => q.isRefetchError)?.error;
  const activeWorkers = (workers.data ?? []).filter((w) => ACTIVE_WORKER_STATUSES.has(w.status)).length;

  return (
    <div className="stack">
      <div className="section-head">
        <h1>{t("orchestrator")}</h1>
        {workers.data ? (
          <FreshnessStatus
            fetchedAtMs={workers.dataUpdatedAt}
            error={refetchError ?? null}
            isFetching={workers.isFetching}
            now={now}
          />
        ) : null}
      </div>
      <PageSections
        sections={[
          { id: "queue", label: t("nav.queue") },
          { id: "scale", label: t("nav.scale") },
          { id: "fleet", label: t("nav.fleet") },
          { id: "health", label: t("nav.health") },
          { id: "tasks", label: t("nav.tasks") },
          { id: "recent", label: t("nav.recent") },
        ]}
      />
      {firstError ? <QueryError error={firstError} what={t("systemState")} /> : null}
      <div className="console-grid">
        {queue.data ? <QueueMetrics queue={queue.data} now={now} /> : null}
        {summary.data ? <DbSnapshot summary={summary.data} /> : null}
        <ScaleControls activeWorkers={activeWorkers} />
        <SchedulerTrigger />
      </div>
      {workers.data ? <WorkerFleet workers={workers.data} /> : null}
      <LineHealthPanel />
      <TaskRuns />
      {summary.data ? <RecentDepartures departures={summary.data.recent_departures} now={now} /> : null}
    </div>
  );
}
