"use client";

import Link from "next/link";
import { useTranslations } from "next-intl";

import { FavouriteButton } from "@/components/favourites/FavouriteButton";
import { LineBadge } from "@/components/lines/LineBadge";
import { lineHref } from "@/components/lines/NetworkTabs";
import { FreshnessStatus } from "@/components/status/FreshnessStatus";
import { Loading, QueryError } from "@/components/status/QueryError";
import { ApiError } from "@/lib/api/errors";
import { useStation } from "@/lib/api/queries";
import type { Departure, LineRef, StationDetail } from "@/lib/api/types";
import { departureCountdown, upcoming } from "@/lib/format/countdown";
import { lineSentence, stopNote, worstFreshness } from "@/lib/format/freshness";
import { useNow } from "@/lib/hooks/useNow";

import { DepartureTime } from "./DepartureTime";

const DEPARTURES_PER_DIRECTION = 5;

interface DirectionGroup {
  direction: Departure["direction"];
  destinations: string[];
  departures: Departure[];
}

interface LineGroup {
  line: LineRef;
  directions: DirectionGroup[];
}

/** Departures grouped by line (in the station's line order) then by direction. */
function groupDepartures(detail: StationDetail, now: number): LineGroup[] {
  return detail.lines.map((line) => {
    const mine = upcoming(
      detail.departures.filter((d) => d.line_id.toLowerCase() === line.id.toLowerCase()),
      now,
    );
    const directions = (["A", "R"] as const)
      .map((direction) => {
        const departures = mine.filter((d) => d.direction === direction);
        return {
          direction,
          destinations: [...new Set(departures.map((d) => d.destination))],
          departures: departures.slice(0, DEPARTURES_PER_DIRECTION),
        };
      })
      .filter((group) => group.departures.length > 0);
    return { line, directions };
  });
}

function nextSummary(t: ReturnType<typeof useTranslations<"station">>, groups: LineGroup[], now: number): string {
  const lines = groups.filter((g) => g.directions.length).length;
  const total = groups.reduce((n, g) => n + g.directions.reduce((m, d) => m + d.departures.length, 0), 0);
  const cancelled = groups.reduce(
    (n, g) =>
      n +
      g.directions.reduce(
        (m, d) => m + d.departures.filter((x) => departureCountdown(x, now).kind === "cancelled").length,
        0,
      ),
    0,
  );
  if (!total) return t("noDepartures");
  return t("summary", { total, lines, cancelled });
}

export function StationBoardView({ stationId }: { stationId: string }) {
  const t = useTranslations("station");
  const tf = useTranslations("freshness");
  const query = useStation(stationId);
  const now = useNow();

  if (!query.data) {
    if (query.isError) {
      if (query.error instanceof ApiError && query.error.isNotFound) {
        return (
          <div className="stack">
            <h1>{t("unknownTitle")}</h1>
            <p>
              {t("unknownBody", { id: stationId })} <Link href="/">{t("searchLink")}</Link>.
            </p>
          </div>
        );
      }
      return <QueryError error={query.error} what={t("what")} />;
    }
    return <Loading what={t("loading")} />;
  }

  const detail = query.data;
  const groups = groupDepartures(detail, now);
  const freshnessByLine = new Map(detail.freshness.map((f) => [f.line_id.toLowerCase(), f]));
  const worst = worstFreshness(
    detail.freshness.map((f) => f.freshness),
    now,
  );
  // The summary is computed from the fetched data only (not `now`) so it changes at most once per refresh.
  const summary = nextSummary(t, groupDepartures(detail, query.dataUpdatedAt), query.dataUpdatedAt);

  return (
    <div className="stack">
      <header className="page-head">
        <span className="station-icon station-icon-lg" aria-hidden="true" />
        <div className="page-head-text">
          <h1>{detail.station.name}</h1>
          {detail.station.town ? <p className="muted">{detail.station.town}</p> : null}
        </div>
        <FavouriteButton
          kind="station"
          station={{ id: detail.station.id, name: detail.station.name, town: detail.station.town }}
          label={detail.station.name}
        />
      </header>
      <nav aria-label={t("linesHere")} className="badge-row">
        {detail.lines.map((line) => (
          <Link key={line.id} href={lineHref(line)} className="badge-link">
            <LineBadge line={line} />
          </Link>
        ))}
      </nav>
      <FreshnessStatus
        fetchedAtMs={query.dataUpdatedAt}
        freshness={worst}
        error={query.isRefetchError ? query.error : null}
        isFetching={query.isFetching}
        now={now}
      />
      <p className="summary" aria-live="polite" data-testid="board-summary">
        {summary}
      </p>
      <div className="board" data-testid="station-board">
        {groups.map(({ line, directions }) => {
          const lineFreshness = freshnessByLine.get(line.id.toLowerCase());
          // This line's board at this station: stale with its age when it was not refreshed.
          const note = stopNote(tf, lineFreshness?.stop, now, lineFreshness?.freshness.stale_after_seconds);
          return (
            <section
              key={line.id}
              className="board-line"
              aria-labelledby={`board-${line.id}`}
              data-testid="board-line"
              data-stop-status={lineFreshness?.stop?.status ?? "none"}
            >
              <h2 id={`board-${line.id}`} className="board-line-title">
                <LineBadge line={line} />
                <span>{line.name}</span>
                {note ? (
                  <span className="stop-note" data-testid="stop-stale-note">
                    <span aria-hidden="true">⚠ {note.label}</span>
                    <span className="visually-hidden">{note.spoken}</span>
                  </span>
                ) : null}
              </h2>
              {directions.length ? (
                <div className="board-directions">
                  {directions.map((group) => (
                    <table key={group.direction} className="board-table">
                      <caption>→ {group.destinations.slice(0, 2).join(" / ")}</caption>
                      <thead className="visually-hidden">
                        <tr>
                          <th scope="col">{t("destination")}</th>
                          <th scope="col">{t("departs")}</th>
                        </tr>
                      </thead>
                      <tbody>
                        {group.departures.map((departure, i) => (
                          <tr
                            key={`${departure.expected_at}-${i}`}
                            className={departure.status === "cancelled" ? "is-cancelled" : undefined}
                            data-testid="departure-row"
                          >
                            <td className="board-destination">
                              {departure.status === "cancelled" ? <s>{departure.destination}</s> : departure.destination}
                            </td>
                            <td className="board-time">
                              <DepartureTime departure={departure} now={now} stale={note !== null} />
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  ))}
                </div>
              ) : (
                <p className="muted" data-testid="empty-state">
                  {(lineFreshness ? lineSentence(tf, lineFreshness.freshness, now) : null) ?? t("noDepartures")}
                </p>
              )}
            </section>
          );
        })}
      </div>
    </div>
  );
}
