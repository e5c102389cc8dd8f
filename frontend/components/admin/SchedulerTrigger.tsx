"use client";

import { useTranslations } from "next-intl";

import { errorMessage } from "@/lib/api/errors";
import { useTriggerScheduler } from "@/lib/api/queries";
import { formatClockSeconds, formatDuration } from "@/lib/format/time";

/** Runs one scheduler cycle now: POST /api/system/scheduler/trigger, with the cycle's outcome. */
export function SchedulerTrigger() {
  const t = useTranslations("admin.scheduler");
  const trigger = useTriggerScheduler();
  const run = trigger.data;
  return (
    <section className="card" aria-labelledby="scheduler-title">
      <h2 id="scheduler-title">{t("title")}</h2>
      <button
        type="button"
        className="button button-primary"
        disabled={trigger.isPending}
        onClick={() => trigger.mutate()}
        data-testid="trigger-scheduler"
      >
        {trigger.isPending ? t("scheduling") : t("run")}
      </button>
      <div aria-live="polite" data-testid="scheduler-outcome">
        {!trigger.isPending && run ? (
          <p className="outcome-ok" data-enqueued={run.enqueued} data-run-id={run.id}>
            {t("outcome", {
              clock: formatClockSeconds(run.started_at),
              enqueued: run.enqueued,
              coalesced: run.coalesced,
              total: run.lines_total,
              took: formatDuration(run.duration_ms),
            })}
            {run.error ? <span className="text-danger"> · {run.error}</span> : null}
          </p>
        ) : null}
        {!trigger.isPending && trigger.isError ? (
          <p className="outcome-error" role="alert">
            {t("failed", { error: errorMessage(trigger.error) })}
          </p>
        ) : null}
      </div>
    </section>
  );
}
