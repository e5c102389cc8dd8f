import { useTranslations } from "next-intl";

import type { LineDisruption } from "@/lib/api/types";
import { formatDayMinute } from "@/lib/format/time";

const SEVERITY_KEY = {
  blocking: "severityBlocking",
  disturbed: "severityDisturbed",
  information: "severityInformation",
} as const;

/**
 * The line's disruptions from PRIM's traffic feed, phone first: a severity badge, the current (or next) period in
 * Paris time, the short message, the affected section and, folded, the full message. Messages arrive as plain text
 * and are rendered as text, never as HTML. A disruption whose period ended while the page was open leaves the list.
 */
export function LineDisruptions({ disruptions, now }: { disruptions: LineDisruption[]; now: number }) {
  const t = useTranslations("disruptions");
  const when = formatDayMinute;
  const shown = disruptions
    .map((disruption) => {
      const period = disruption.periods.find((p) => Date.parse(p.end) > now) ?? null;
      return period ? { disruption, period, current: Date.parse(period.begin) <= now } : null;
    })
    .filter((item) => item !== null);
  if (!shown.length) return null;
  return (
    <section className="line-disruptions" aria-labelledby="disruptions-title" data-testid="line-disruptions">
      <h2 id="disruptions-title">{t("title")}</h2>
      <ul className="line-disruption-list">
        {shown.map(({ disruption, period, current }) => (
          <li
            key={disruption.id}
            className={`line-disruption severity-${disruption.severity}`}
            data-testid="line-disruption"
            data-severity={disruption.severity}
            data-current={current}
          >
            <p className="disruption-head">
              <span className={`severity-badge severity-${disruption.severity}`}>
                {t(SEVERITY_KEY[disruption.severity])}
              </span>{" "}
              <span className="disruption-when" data-testid="disruption-period">
                {current
                  ? t("now", { end: when(period.end) })
                  : t("next", { begin: when(period.begin), end: when(period.end) })}
              </span>
            </p>
            <p className="disruption-text">{disruption.short_message || disruption.title}</p>
            {disruption.sections.map((section) => (
              <p key={`${section.from_name}-${section.to_name}`} className="disruption-section" data-testid="disruption-section">
                {t("section", { from: section.from_name, to: section.to_name })}
              </p>
            ))}
            {disruption.message ? (
              <details>
                <summary>{t("details")}</summary>
                <p className="disruption-message" data-testid="disruption-message">
                  {disruption.message}
                </p>
                {disruption.updated_at ? <p className="banner-meta">{t("updatedAt", { when: when(disruption.updated_at) })}</p> : null}
              </details>
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
