"use client";

import Link from "next/link";
import { useTranslations } from "next-intl";
import { useState } from "react";

import { FavouriteButton } from "@/components/favourites/FavouriteButton";
import { Tabs } from "@/components/ui/Tabs";
import type { LineSummary, NetworkLines } from "@/lib/api/types";

import { LineBadge, useNetworkName } from "./LineBadge";
import { LineDataBadge, lacksLiveData } from "./LineDataBadge";
import { TrafficBadge, isTroubled } from "./TrafficBadge";

export function lineHref(line: Pick<LineSummary, "network" | "code">): string {
  return `/lines/${encodeURIComponent(line.network)}/${encodeURIComponent(line.code)}`;
}

type NetworkText = ReturnType<typeof useTranslations<"network">>;

function trafficSummary(t: NetworkText, lines: readonly LineSummary[], troubled: number): string {
  if (troubled) return t("disrupted", { count: troubled });
  const unknown = lines.filter((line) => !line.traffic || line.traffic.level === "unknown").length;
  if (unknown === lines.length) return t("trafficUnknownAll");
  if (unknown) return t("trafficUnknownSome", { count: unknown });
  return t("noDisruption");
}

/**
 * Metro, RER, tram and bus as tabs; each line with its badge, traffic status, whether its departures are live,
 * and a favourite star. "No disruption reported" is said only when every line's traffic is known.
 */
export function NetworkTabs({ networks, now }: { networks: readonly NetworkLines[]; now: number }) {
  const t = useTranslations("network");
  const networkName = useNetworkName();
  const [selected, setSelected] = useState(networks[0]?.network ?? "metro");
  const current = networks.find((n) => n.network === selected) ?? networks[0];
  if (!current) return <p className="empty">{t("noLines")}</p>;

  const troubled = current.lines.filter((line) => isTroubled(line.traffic));
  const withoutLiveData = current.lines.filter((line) => lacksLiveData(line.freshness, now)).length;
  return (
    <Tabs
      idPrefix="network"
      label={t("tabs")}
      selected={current.network}
      onSelect={(id) => setSelected(id as typeof selected)}
      tabs={networks.map((n) => ({
        id: n.network,
        label: (
          <>
            {networkName(n.network)}
            <span className="tab-count">{n.lines.length}</span>
          </>
        ),
      }))}
    >
      <p className="summary" aria-live="polite" data-testid="network-summary">
        {t("count", { count: current.lines.length, label: networkName(current.network) })}
        {trafficSummary(t, current.lines, troubled.length)}
        {withoutLiveData ? t("withoutLiveData", { count: withoutLiveData }) : ""}
      </p>
      {troubled.length ? (
        <div className="banner banner-warning" data-testid="disruption-banner">
          <strong>{t("disruptions")}</strong>
          <ul className="disruption-list">
            {troubled.map((line) => (
              <li key={line.id}>
                <Link href={lineHref(line)} className="disruption-item">
                  <LineBadge line={line} size="sm" />
                  <span>
                    {line.traffic?.level === "closed" ? t("closed") : t("disruptedLabel")}
                    {line.traffic?.message ? `: ${line.traffic.message}` : ""}
                  </span>
                </Link>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <ul className="line-grid" data-testid="line-list">
        {current.lines.map((line) => (
          <li key={line.id} className="line-card" data-testid="line-card" data-line-id={line.id}>
            <Link href={lineHref(line)} className="line-card-link">
              <LineBadge line={line} />
              <span className="line-card-text">
                <span className="line-card-name">{line.name}</span>
                <span className="badges-inline">
                  <TrafficBadge traffic={line.traffic} />
                  <LineDataBadge freshness={line.freshness} now={now} />
                </span>
              </span>
            </Link>
            <FavouriteButton kind="line" line={line} label={line.name} />
          </li>
        ))}
      </ul>
    </Tabs>
  );
}
