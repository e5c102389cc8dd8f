"use client";

import Link from "next/link";
import { useTranslations } from "next-intl";

import { LineBadge } from "@/components/lines/LineBadge";
import { LineDataBadge } from "@/components/lines/LineDataBadge";
import { TrafficBadge } from "@/components/lines/TrafficBadge";
import { lineHref } from "@/components/lines/NetworkTabs";
import type { LineSummary } from "@/lib/api/types";
import { useFavourites } from "@/lib/favourites/useFavourites";

import { FavouriteButton } from "./FavouriteButton";

/** The rider's favourite lines (with today's traffic and whether their data is live) and stations. */
export function FavouritesPanel({ linesById, now }: { linesById: ReadonlyMap<string, LineSummary>; now: number }) {
  const t = useTranslations("favourites");
  const { favourites } = useFavourites();
  if (!favourites.lines.length && !favourites.stations.length) {
    return (
      <section className="card favourites" aria-labelledby="favourites-title">
        <h2 id="favourites-title">{t("title")}</h2>
        <p className="muted">{t("empty")}</p>
      </section>
    );
  }
  return (
    <section className="card favourites" aria-labelledby="favourites-title" data-testid="favourites">
      <h2 id="favourites-title">{t("title")}</h2>
      {favourites.lines.length ? (
        <ul className="favourite-list">
          {favourites.lines.map((saved) => {
            const live = linesById.get(saved.id);
            const line = live ?? saved;
            return (
              <li key={saved.id} className="favourite-item">
                <Link href={lineHref(line)} className="line-card-link">
                  <LineBadge line={line} />
                  <span>{line.name}</span>
                </Link>
                {live ? (
                  <span className="badges-inline">
                    <TrafficBadge traffic={live.traffic} />
                    <LineDataBadge freshness={live.freshness} now={now} />
                  </span>
                ) : null}
                <FavouriteButton kind="line" line={saved} label={line.name} />
              </li>
            );
          })}
        </ul>
      ) : null}
      {favourites.stations.length ? (
        <ul className="favourite-list">
          {favourites.stations.map((station) => (
            <li key={station.id} className="favourite-item">
              <Link href={`/stations/${encodeURIComponent(station.id)}`} className="favourite-station">
                <span aria-hidden="true" className="station-icon" />
                {station.name}
                {station.town ? <span className="muted"> · {station.town}</span> : null}
              </Link>
              <FavouriteButton kind="station" station={station} label={station.name} />
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
