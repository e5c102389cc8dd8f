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
  const lastScheduled = parseTime(queue.last_scheduled_at);
  const run = queue.last_run;
  const kafka = queue.kafka;
  return (
    <section className="card" aria-labelledby="queue-title" id="queue">
      <h2 id="queue-title">Queue</h2>
      <dl className="metrics">
        <Metric label="Bus" value={queue.bus} />
        <Metric label="Queued" value={queue.queued} testId="queue-queued" />
        <Metric label="Running" value={queue.running} testId="queue-running" />
        <Metric
          label="Last scheduled"
          value={
            lastScheduled === null ? (
              "never"
            ) : (
              <span title={formatClockSeconds(lastScheduled)}>{formatAge((now - lastScheduled) / 1000)} ago</span>
            )
          }
        />
        {kafka ? <Metric label="Kafka lag" value={kafka.lag_total} testId="kafka-lag-total" /> : null}
        {kafka ? <Metric label="Consumers" value={`${kafka.members} / ${kafka.partitions} partitions`} /> : null}
      </dl>
      {queue.kafka_error ? <p className="text-danger small">Kafka did not answer: {queue.kafka_error}</p> : null}
      {run ? (
        <p className="muted small">
          Last cycle ({run.trigger}
          {run.requested_by ? ` by ${run.requested_by}` : ""}) at {formatClockSeconds(run.started_at)}: {run.enqueued}{" "}
          enqueued, {run.coalesced} coalesced of {run.lines_total} lines in {formatDuration(run.duration_ms)}
          {run.error ? <span className="text-danger"> · error: {run.error}</span> : null}
        </p>
      ) : null}
      {kafka && kafka.lag_by_partition.length ? (
        <details className="partition-lag">
          <summary>
            Lag per partition ({kafka.topic}, {kafka.lag_by_partition.filter((p) => p.lag > 0).length} lagging)
          </summary>
          <ul className="partition-grid">
            {kafka.lag_by_partition.map((p) => (
              <li
                key={p.partition}
                className={p.lag > 0 ? "is-lagging" : undefined}
                title={`committed ${p.committed ?? "none"}, end ${p.end_offset}`}
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
