import { useTranslations } from "next-intl";

import type { DbSummary } from "@/lib/api/types";
import { TaskStatusValues, WorkerStatusValues } from "@/lib/api/vocabulary";

const TASK_KEYS = [...TaskStatusValues, "total"] as const;
const WORKER_KEYS = [...WorkerStatusValues, "total"] as const;

export function DbSnapshot({ summary }: { summary: DbSummary }) {
  const t = useTranslations("admin.db");
  return (
    <section className="card" aria-labelledby="db-title">
      <h2 id="db-title">{t("title")}</h2>
      <div className="snapshot-tables">
        <table className="compact-table">
          <caption>{t("tasks")}</caption>
          <tbody>
            {TASK_KEYS.map((key) => (
              <tr key={key} className={key === "total" ? "is-total" : undefined}>
                <th scope="row">{key}</th>
                <td data-testid={`tasks-${key}`}>{summary.tasks[key]}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <table className="compact-table">
          <caption>{t("workers")}</caption>
          <tbody>
            {WORKER_KEYS.map((key) => (
              <tr key={key} className={key === "total" ? "is-total" : undefined}>
                <th scope="row">{key}</th>
                <td data-testid={`workers-${key}`}>{summary.workers[key]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="muted small">
        {t("stored", { departures: summary.departures, lines: summary.lines_with_data })}
      </p>
    </section>
  );
}
