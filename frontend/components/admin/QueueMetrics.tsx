import { useTranslations } from "next-intl";
import type { ReactNode } from "react";

import type { QueueInfo } from "@/lib/api/types";
import { formatAge, formatClockSeconds, formatDuration, parseTime } from "@/lib/format/time";

function Metric({ label, value, testId }: { label: string; value: ReactNode; testId?: string }) {
  return (
    <div className="metric" data-testid={testId}>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

export function QueueMetrics({ queue, now }: { queue: QueueInfo; now: number }) {
  const t = useTranslations("admin.queue");
  const lastScheduled = parseTime(queue.last_scheduled_at);
  const run = queue.last_run;
  const kafka = queue.kafka;
  return (
    <section className="card" aria-labelledby="queue-title" id="queue">
      <h2 id="queue-title">{t("title")}</h2>
      <dl className="metrics">
        <Metric label={t("bus")} value={queue.bus} />
        <Metric label={t("queued")} value={queue.queued} testId="queue-queued" />
        <Metric label={t("running")} value={queue.running} testId="queue-running" />
        <Metric
          label={t("lastScheduled")}
          value={
            lastScheduled === null ? (
              t("never")
            ) : (
              <span title={formatClockSeconds(lastScheduled)}>{t("ago", { age: formatAge((now - lastScheduled) / 1000) })}</span>
            )
          }
        />
        {kafka ? <Metric label={t("kafkaLag")} value={kafka.lag_total} testId="kafka-lag-total" /> : null}
        {kafka ? <Metric
            label={t("consumers")}
            value={t("consumersValue", { members: kafka.members, partitions: kafka.partitions })}
          /> : null}
      </dl>
      {queue.kafka_error ? <p className="text-danger small">{t("kafkaError", { error: queue.kafka_error })}</p> : null}
      {run ? (
        <p className="muted small">
          {t("lastCycle", {
            trigger: run.trigger,
            by: run.requested_by ? t("by", { name: run.requested_by }) : "",
            clock: formatClockSeconds(run.started_at),
            enqueued: run.enqueued,
            coalesced: run.coalesced,
            total: run.lines_total,
            took: formatDuration(run.duration_ms),
          })}
          {run.error ? <span className="text-danger">{t("cycleError", { error: run.error })}</span> : null}
        </p>
      ) : null}
      {kafka && kafka.lag_by_partition.length ? (
        <details className="partition-lag">
          <summary>
            {t("lagPerPartition", {
              topic: kafka.topic,
              lagging: kafka.lag_by_partition.filter((p) => p.lag > 0).length,
            })}
          </summary>
          <ul className="partition-grid">
            {kafka.lag_by_partition.map((p) => (
              <li
                key={p.partition}
                className={p.lag > 0 ? "is-lagging" : undefined}
                title={t("partitionTitle", { committed: String(p.committed ?? t("none")), end: String(p.end_offset) })}
              >
                <span className="partition-id">p{p.partition}</span>
                <span>{p.lag}</span>
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </section>
  );
}
