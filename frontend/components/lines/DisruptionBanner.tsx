import { useTranslations } from "next-intl";

import type { TrafficInfo } from "@/lib/api/types";
import { formatClock } from "@/lib/format/time";

import { isTroubled } from "./TrafficBadge";

/** Shown on a line's page when it is disrupted or closed, with the operator's message (never the source's name). */
export function DisruptionBanner({ traffic, lineName }: { traffic: TrafficInfo | null | undefined; lineName: string }) {
  const t = useTranslations("traffic");
  if (!traffic || !isTroubled(traffic)) return null;
  const closed = traffic.level === "closed";
  return (
    <div className={`banner ${closed ? "banner-danger" : "banner-warning"}`} role="alert" data-testid="disruption-banner">
      <strong>{t(closed ? "bannerClosed" : "bannerDisrupted", { line: lineName })}</strong>
      {traffic.message ? <p>{traffic.message}</p> : null}
      <p className="banner-meta">{t("updated", { clock: formatClock(traffic.updated_at) })}</p>
    </div>
  );
}
