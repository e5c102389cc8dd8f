"use client";

import Link from "next/link";
import { useState, type CSSProperties } from "react";

import { FavouriteButton } from "@/components/favourites/FavouriteButton";
import { FreshnessStatus } from "@/components/status/FreshnessStatus";
import { Loading, QueryError } from "@/components/status/QueryError";
import { Tabs } from "@/components/ui/Tabs";
import { ApiError } from "@/lib/api/errors";
import { useLine } from "@/lib/api/queries";
import { lineSentence } from "@/lib/format/freshness";
import { useNow } from "@/lib/hooks/useNow";

import { DisruptionBanner } from "./DisruptionBanner";
import { LineBadge, networkName } from "./LineBadge";
import { LineDiagram } from "./LineDiagram";
import { RefreshPlanNote } from "./RefreshPlanNote";
import { TrafficBadge } from "./TrafficBadge";

export function LineView({ network, code }: { network: string; code: string }) {
  const query = useLine(network, code);
  const now = useNow();
  const [selected, setSelected] = useState<string | null>(null);

  if (!query.data) {
    if (query.isError) {
      if (query.error instanceof ApiError && query.error.isNotFound) {
        return (
          <div className="stack">
            <h1>Unknown line</h1>
            <p>
              There is no line {networkName(network)} {code}. <Link href="/">See all lines</Link>.
            </p>
          </div>
        );
      }
      return <QueryError error={query.error} what="this line" />;
    }
    return <Loading what="the line" />;
  }

  const detail = query.data;
  const { line } = detail;
  const directions = detail.directions;
  const current = directions.find((d) => d.direction === selected) ?? directions[0];
  // One short sentence when the line's data is not fully live; the technical detail stays in the system API.
  const note = lineSentence(line.freshness, now);
  const vehicles = current ? detail.vehicles.filter((v) => v.direction === current.direction) : [];

  return (
    <div className="stack">
      <header className="page-head">
        <LineBadge line={line} size="lg" />
        <div className="page-head-text">
          <h1>{line.name}</h1>
          <p className="muted">{networkName(line.network)}</p>
        </div>
        <TrafficBadge traffic={line.traffic} />
        <FavouriteButton kind="line" line={line} label={line.name} />
      </header>
      <DisruptionBanner traffic={line.traffic} lineName={line.name} />
      <RefreshPlanNote
        intervalSeconds={detail.refresh_interval_seconds}
        staleAfterSeconds={line.freshness.stale_after_seconds}
      />
      <FreshnessStatus
        fetchedAtMs={query.dataUpdatedAt}
        freshness={line.freshness}
        error={query.isRefetchError ? query.error : null}
        isFetching={query.isFetching}
        now={now}
      />
      {note ? (
        <p
          className={`banner ${line.freshness.status === "partial" && !line.freshness.stale ? "banner-info" : "banner-warning"}`}
          data-testid="line-data-note"
          data-status={line.freshness.status}
        >
          {note}
        </p>
      ) : null}
      {current ? (
        <Tabs
          idPrefix="direction"
          label="Directions"
          selected={current.direction}
          onSelect={setSelected}
          tabs={directions.map((d) => ({ id: d.direction, label: <>→ {d.terminus}</> }))}
        >
          <p className="summary" aria-live="polite">
            Towards {current.terminus}: {current.branches.reduce((n, b) => n + b.stations.length, 0)} stations,{" "}
            {vehicles.length} train{vehicles.length === 1 ? "" : "s"} located
          </p>
          <div className={`branches${current.branches.length > 1 ? " has-many" : ""}`}>
            {current.branches.map((branch) => (
              <section key={branch.branch} className="branch" aria-label={`Branch ${branch.branch}`}>
                {current.branches.length > 1 ? (
                  <h2 className="branch-title">
                    Branch to {branch.stations[branch.stations.length - 1]?.name ?? branch.branch}
                  </h2>
                ) : null}
                <div
                  className="diagram-wrap"
                  style={{ "--line-colour": line.colour || "#6b7280" } as CSSProperties}
                >
                  <LineDiagram
                    branch={branch}
                    vehicles={vehicles}
                    now={now}
                    staleAfterSeconds={line.freshness.stale_after_seconds}
                  />
                </div>
              </section>
            ))}
          </div>
        </Tabs>
      ) : (
        <p className="empty">No stations are known for this line yet.</p>
      )}
    </div>
  );
}
