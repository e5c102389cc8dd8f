"use client";

import { errorMessage } from "@/lib/api/errors";
import { useTriggerScheduler } from "@/lib/api/queries";
import { formatClockSeconds, formatDuration } from "@/lib/format/time";

/** Runs one scheduler cycle now: POST /api/system/scheduler/trigger, with the cycle's outcome. */
export function SchedulerTrigger() {
  const trigger = useTriggerScheduler();
  const run = trigger.data;
  return (
    <section className="card" aria-labelledby="scheduler-title">
      <h2 id="scheduler-title">Scheduler</h2>
      <button
        type="button"
        className="button button-primary"
        disabled={trigger.isPending}
        onClick={() => trigger.mutate()}
        data-testid="trigger-scheduler"
      >
        {trigger.isPending ? "Scheduling…" : "Run a cycle now"}
      </button>
      <div aria-live="polite" data-testid="scheduler-outcome">
        {!trigger.isPending && run ? (
          <p className="outcome-ok" data-enqueued={run.enqueued} data-run-id={run.id}>
            Cycle at {formatClockSeconds(run.started_at)}: {run.enqueued} task{run.enqueued === 1 ? "" : "s"} enqueued,{" "}
            {run.coalesced} coalesced (still active) of {run.lines_total} lines in {formatDuration(run.duration_ms)}
            {run.error ? <span className="text-danger"> · {run.error}</span> : null}
          </p>
        ) : null}
        {!trigger.isPending && trigger.isError ? (
          <p className="outcome-error" role="alert">
            Trigger failed: {errorMessage(trigger.error)}
          </p>
        ) : null}
      </div>
    </section>
  );
}
