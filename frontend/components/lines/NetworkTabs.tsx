"use client";

import Link from "next/link";
import { useState } from "react";

import { FavouriteButton } from "@/components/favourites/FavouriteButton";
import { Tabs } from "@/components/ui/Tabs";
import type { LineSummary, NetworkLines } from "@/lib/api/types";

import { LineBadge } from "./LineBadge";
import { TrafficBadge, isTroubled } from "./TrafficBadge";

export function lineHref(line: Pick<LineSummary, "network" | "code">): string {
  return `/lines/${encodeURIComponent(line.network)}/${encodeURIComponent(line.code)}`;
}

/** Metro, RER, tram and bus as tabs; each line with its badge, traffic status and a favourite star. */
export function NetworkTabs({ networks }: { networks: readonly NetworkLines[] }) {
  const [selected, setSelected] = useState(networks[0]?.network ?? "metro");
  const current = networks.find((n) => n.network === selected) ?? networks[0];
  if (!current) return <p className="empty">No lines are known yet.</p>;

  const troubled = current.lines.filter((line) => isTroubled(line.traffic));
  return (
    <Tabs
      idPrefix="network"
      label="Networks"
      selected={current.network}
      onSelect={(id) => setSelected(id as typeof selected)}
      tabs={networks.map((n) => ({
        id: n.network,
        label: (
          <>
            {n.label}
            <span className="tab-count">{n.lines.length}</span>
          </>
        ),
      }))}
    >
      <p className="summary" aria-live="polite" data-testid="network-summary">
        {current.lines.length} {current.label} lines
        {troubled.length ? ` · ${troubled.length} disrupted or closed` : " · no disruption reported"}
      </p>
      {troubled.length ? (
        <div className="banner banner-warning" data-testid="disruption-banner">
          <strong>Disruptions</strong>
          <ul className="disruption-list">
            {troubled.map((line) => (
              <li key={line.id}>
                <Link href={lineHref(line)} className="disruption-item">
                  <LineBadge line={line} size="sm" />
                  <span>
                    {line.traffic?.level === "closed" ? "Closed" : "Disrupted"}
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
                <TrafficBadge traffic={line.traffic} />
              </span>
            </Link>
            <FavouriteButton kind="line" line={line} label={line.name} />
          </li>
        ))}
      </ul>
    </Tabs>
  );
}
