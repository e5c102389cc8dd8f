import { useTranslations } from "next-intl";

import type { TrafficInfo } from "@/lib/api/types";

const ICON = { normal: "✓", disrupted: "!", closed: "✕", unknown: "?" } as const;

/** The line's traffic level as a labelled badge (text and icon, not colour alone). */
export function TrafficBadge({ traffic }: { traffic: TrafficInfo | null | undefined }) {
  const t = useTranslations("traffic");
  const level = traffic?.level ?? "unknown";
  return (
    <span className={`traffic-badge traffic-${level}`} title={traffic?.message ?? undefined} data-testid="traffic-badge">
      <span aria-hidden="true" className="traffic-icon">
        {ICON[level]}
      </span>
      {t(level)}
    </span>
  );
}

export function isTroubled(traffic: TrafficInfo | null | undefined): boolean {
  return traffic?.level === "disrupted" || traffic?.level === "closed";
}
