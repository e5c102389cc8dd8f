import type { LogRecord } from "@/lib/api/types";
import { formatDayTime } from "@/lib/format/time";

function LogRow({ record }: { record: LogRecord }) {
  const level = record.level.toUpperCase();
  const extra = record.extra && Object.keys(record.extra).length ? record.extra : null;
  const head = (
    <>
      <time className="log-time mono" dateTime={record.created_at}>
        {formatDayTime(record.created_at)}
      </time>
      <span className={`log-level level-${level.toLowerCase()}`}>{level}</span>
      <span className="log-service">{record.service}</span>
      <span className="log-logger mono">{record.logger}</span>
      <span className="log-message">{record.message}</span>
    </>
  );
  return (
    <li className={`log-row level-row-${level.toLowerCase()}`} data-testid="log-row" data-level={level}>
      {extra ? (
        <details>
          <summary className="log-head">{head}</summary>
          <pre className="log-extra">{JSON.stringify(extra, null, 2)}</pre>
        </details>
      ) : (
        <div className="log-head">{head}</div>
      )}
    </li>
  );
}

/** Log records, newest first, coloured by level; rows with extra fields expand to show them. */
export function LogList({ records }: { records: readonly LogRecord[] }) {
  return (
    <ol className="log-list" data-testid="log-list">
      {records.map((record) => (
        <LogRow key={record.id} record={record} />
      ))}
    </ol>
  );
}
