"use client";

import { useMemo } from "react";

import { FavouritesPanel } from "@/components/favourites/FavouritesPanel";
import { NetworkTabs } from "@/components/lines/NetworkTabs";
import { StationSearch } from "@/components/search/StationSearch";
import { FreshnessStatus } from "@/components/status/FreshnessStatus";
import { Loading, QueryError } from "@/components/status/QueryError";
import { useLines } from "@/lib/api/queries";
import type { LineSummary } from "@/lib/api/types";
import { useNow } from "@/lib/hooks/useNow";

export function HomeDashboard() {
  const lines = useLines();
  const now = useNow();
  const linesById = useMemo(() => {
    const map = new Map<string, LineSummary>();
    for (const network of lines.data?.networks ?? []) for (const line of network.lines) map.set(line.id, line);
    return map;
  }, [lines.data]);

  return (
    <div className="stack">
      <section className="hero">
        <h1>Next departures, live</h1>
        <StationSearch />
      </section>
      <FavouritesPanel linesById={linesById} />
      <section aria-labelledby="lines-title" className="stack-sm">
        <div className="section-head">
          <h2 id="lines-title">Lines</h2>
          {lines.data ? (
            <FreshnessStatus
              fetchedAtMs={lines.dataUpdatedAt}
              error={lines.isRefetchError ? lines.error : null}
              isFetching={lines.isFetching}
              now={now}
            />
          ) : null}
        </div>
        {lines.data ? (
          <NetworkTabs networks={lines.data.networks} />
        ) : lines.isError ? (
          <QueryError error={lines.error} what="the lines" />
        ) : (
          <Loading what="lines" />
        )}
      </section>
    </div>
  );
}
