import { useTranslations } from "next-intl";

import type { Freshness } from "@/lib/api/types";
import { dataAgeSeconds, dataState } from "@/lib/format/freshness";
import { formatAge } from "@/lib/format/time";

type Marker = { kind: "failed" | "never" | "no-data" | "stale" | "partial"; icon: string; label: string };

type BadgeText = ReturnType<typeof useTranslations<"freshness.badge">>;

function marker(t: BadgeText, freshness: Freshness, nowMs: number): Marker | null {
  const state = dataState(freshness, nowMs);
  if (freshness.status === "never") return { kind: "never", icon: "✕", label: t("never") };
  if (freshness.status === "no_data") return { kind: "no-data", icon: "–", label: t("noData") };
  if (state === "none") return { kind: "failed", icon: "✕", label: t("failed") };
  if (freshness.status === "failed") return { kind: "failed", icon: "✕", label: t("failed") };
  if (state === "stale") {
    const age = dataAgeSeconds(freshness, nowMs);
    return { kind: "stale", icon: "⚠", label: age === null ? t("staleNoAge") : t("stale", { age: formatAge(age) }) };
  }
  if (freshness.status === "partial") return { kind: "partial", icon: "◐", label: t("partial") };
  return null;
}

/**
 * Beside a line's traffic badge: whether its departures are live. Nothing while they are; "No live data",
 * "Stale · 9 min", "Some stops stale"… otherwise, as text with an icon (colour is only a hint).
 */
export function LineDataBadge({ freshness, now }: { freshness: Freshness | null | undefined; now: number }) {
  const t = useTranslations("freshness.badge");
  if (!freshness) return null;
  const m = marker(t, freshness, now);
  if (!m) return null;
  return (
    <span className={`data-badge data-badge-${m.kind}`} data-testid="line-data-badge" data-kind={m.kind}>
      <span aria-hidden="true" className="data-badge-icon">
        {m.icon}
      </span>
      {m.label}
    </span>
  );
}

/** True when the line's departures are not live (failed, stale, never fetched, or empty). */
export function lacksLiveData(freshness: Freshness | null | undefined, nowMs: number): boolean {
  return dataState(freshness, nowMs) !== "live";
}
