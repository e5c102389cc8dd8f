"use client";

import { useTranslations } from "next-intl";
import { useMemo } from "react";

import { FavouritesPanel } from "@/components/favourites/FavouritesPanel";
import { NetworkTabs } from "@/components/lines/NetworkTabs";
import { NearMe } from "@/components/near/NearMe";
import { StationSearch } from "@/components/search/StationSearch";
import { FreshnessStatus } from "@/components/status/FreshnessStatus";
import { Loading, QueryError } from "@/components/status/QueryError";
import { useLines, useMeta } from "@/lib/api/queries";
import type { LineSummary } from "@/lib/api/types";
import { networkStatus } from "@/lib/format/freshness";
import { useNow } from "@/lib/hooks/useNow";

export function HomeDashboard() {
  const t = useTranslations("home");
  const tf = useTranslations("freshness");
  const lines = useLines();
  const meta = useMeta();
  const now = useNow();
  const linesById = useMemo(() => {
    const map = new Map<string, LineSummary>();
    for (const network of lines.data?.networks ?? []) for (const line of network.lines) map.set(line.id, line);
    return map;
  }, [lines.data]);
  // Nothing is claimed before the lines and the deployment's mode are known: "live" only when some line is,
  // and never in demo mode.
  const status =
    lines.data && (meta.data || meta.isError) ? networkStatus(tf, lines.data.summary, meta.data, now) : null;

  return (
    <div className="stack">
      <section className="hero">
        <h1 data-testid="home-headline">{t(status?.headline ?? "headline")}</h1>
        {status?.sentence ? (
          <p className="network-status" role="status" data-testid="network-status" data-state={status.state}>
            {status.sentence}
          </p>
        ) : null}
        <StationSearch />
        <NearMe />
      </section>
      <FavouritesPanel linesById={linesById} now={now} />
      <section aria-labelledby="lines-title" className="stack-sm">
        <div className="section-head">
          <h2 id="lines-title">{t("lines")}</h2>
          {status && lines.data ? (
            <FreshnessStatus
              fetchedAtMs={lines.dataUpdatedAt}
              network={status}
              error={lines.isRefetchError ? lines.error : null}
              isFetching={lines.isFetching}
              now={now}
            />
          ) : null}
        </div>
        {lines.data ? (
          <NetworkTabs networks={lines.data.networks} now={now} />
        ) : lines.isError ? (
          <QueryError error={lines.error} what={t("linesWhat")} />
        ) : (
          <Loading what={t("linesWhat")} />
        )}
      </section>
    </div>
  );
}
