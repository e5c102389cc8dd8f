"use client";

import Link from "next/link";
import { useTranslations } from "next-intl";
import { useMemo, useState, type CSSProperties } from "react";

import { FavouriteButton } from "@/components/favourites/FavouriteButton";
import { FreshnessStatus } from "@/components/status/FreshnessStatus";
import { Loading, QueryError } from "@/components/status/QueryError";
import { Tabs } from "@/components/ui/Tabs";
import { ApiError } from "@/lib/api/errors";
import { useLine, useMeta } from "@/lib/api/queries";
import type { Direction, StationBoard } from "@/lib/api/types";
import { lineSentence } from "@/lib/format/freshness";
import { buildTopology, type Segment } from "@/lib/format/topology";
import { useNow } from "@/lib/hooks/useNow";

import { DisruptionBanner } from "./DisruptionBanner";
import { LineDisruptions } from "./LineDisruptions";
import { LineBadge, useNetworkName } from "./LineBadge";
import { DiagramLegend, LineDiagram } from "./LineDiagram";
import { RefreshPlanNote } from "./RefreshPlanNote";
import { TrafficBadge } from "./TrafficBadge";

type LineText = ReturnType<typeof useTranslations<"line">>;

/** A segment's heading: the branch named by its own terminus (or origin), nothing on an unbranched line. */
function segmentTitle(t: LineText, segment: Segment<StationBoard>, branched: boolean): string | null {
  const first = segment.stations[0]?.name ?? "";
  const last = segment.stations[segment.stations.length - 1]?.name ?? "";
  switch (segment.kind) {
    case "source":
      return t("branchFrom", { origin: first });
    case "fork":
    case "route":
      return t("branchTo", { terminus: last });
    case "parallel":
      return t("via", { first });
    case "trunk":
      return branched ? t("trunk") : null;
  }
}

/**
 * A line's page: one tab per direction, and in each the line drawn as its real shape (lib/format/topology): the trunk
 * once, branches side by side where they fork or merge, every station once with its next departures, the trains
 * on it, and a legend for the markers.
 */
export function LineView({ network, code }: { network: string; code: string }) {
  const t = useTranslations("line");
  const tf = useTranslations("freshness");
  const networkName = useNetworkName();
  const query = useLine(network, code);
  const meta = useMeta();
  const now = useNow();
  const [selected, setSelected] = useState<string | null>(null);
  const directions = query.data?.directions;
  const topologies = useMemo(
    () =>
      new Map(
        (directions ?? []).map((d) => [
          d.direction,
          buildTopology(d.branches.map((b) => [...b.stations].sort((x, y) => x.position - y.position))),
        ]),
      ),
    [directions],
  );

  if (!query.data || !directions) {
    if (query.isError) {
      if (query.error instanceof ApiError && query.error.isNotFound) {
        return (
          <div className="stack">
            <h1>{t("unknownTitle")}</h1>
            <p>
              {t("unknownBody", { network: networkName(network), code })} <Link href="/">{t("seeAll")}</Link>.
            </p>
          </div>
        );
      }
      return <QueryError error={query.error} what={t("what")} />;
    }
    return <Loading what={t("loading")} />;
  }

  const detail = query.data;
  const { line } = detail;
  const current = directions.find((d) => d.direction === selected) ?? directions[0];
  const topology = current ? topologies.get(current.direction) : undefined;
  // One short sentence when the line's data is not fully live; the technical detail stays in the system API.
  const note = lineSentence(tf, line.freshness, now);
  const vehicles = current ? detail.vehicles.filter((v) => v.direction === current.direction) : [];
  const termini = (direction: Direction["direction"], fallback: string) => topologies.get(direction)?.termini.join(" / ") || fallback;
  const branched = (topology?.rows.length ?? 0) > 1;

  return (
    <div className="stack line-page">
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
      <LineDisruptions disruptions={detail.disruptions ?? []} now={now} />
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
      {current && topology ? (
        <Tabs
          idPrefix="direction"
          label={t("directions")}
          selected={current.direction}
          onSelect={setSelected}
          tabs={directions.map((d) => ({
            id: d.direction,
            label: (
              <>
                <span aria-hidden="true">→ </span>
                {termini(d.direction, d.terminus)}
              </>
            ),
          }))}
        >
          <div className="line-layout">
            <div className="line-main">
              <p className="summary" aria-live="polite" data-testid="direction-summary">
                {t(meta.data?.demo_mode ? "summaryDemo" : "summary", {
                  terminus: termini(current.direction, current.terminus),
                  stations: topology.stationCount,
                  trains: vehicles.length,
                })}
              </p>
              <div
                className="topology"
                style={{ "--line-colour": line.colour || "#6b7280" } as CSSProperties}
                data-testid="line-topology"
              >
                {topology.rows.map((row, r) => (
                  <div key={r} className={`topology-row${row.length > 1 ? " is-parallel" : ""}`}>
                    {row.map((segment) => {
                      const title = segmentTitle(t, segment, branched);
                      return (
                        <section
                          key={segment.id}
                          className={`segment segment-${segment.kind}`}
                          aria-label={title ?? line.name}
                          data-testid="line-segment"
                          data-kind={segment.kind}
                        >
                          {title ? <h2 className="branch-title">{title}</h2> : null}
                          <div className="diagram-wrap">
                            <LineDiagram
                              segment={segment}
                              vehicles={vehicles}
                              now={now}
                              staleAfterSeconds={line.freshness.stale_after_seconds}
                            />
                          </div>
                        </section>
                      );
                    })}
                  </div>
                ))}
              </div>
            </div>
            <aside className="line-aside">
              <DiagramLegend />
            </aside>
          </div>
        </Tabs>
      ) : (
        <p className="empty">{t("noStations")}</p>
      )}
    </div>
  );
}
