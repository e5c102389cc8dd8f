import Link from "next/link";
import { useTranslations } from "next-intl";

import { DepartureTime } from "@/components/departures/DepartureTime";
import type { StationBoard, VehiclePosition } from "@/lib/api/types";
import { upcoming } from "@/lib/format/countdown";
import { stopNote } from "@/lib/format/freshness";
import { formatClockSeconds } from "@/lib/format/time";
import type { Segment } from "@/lib/format/topology";
import { placeVehicles } from "@/lib/format/vehicles";

const DEPARTURES_PER_STATION = 3;

function TrainMarker({ vehicle, label, progress }: { vehicle: VehiclePosition; label: string; progress?: number }) {
  const t = useTranslations("line");
  return (
    <span
      className={`train-marker${progress === undefined ? " at-station" : ""}`}
      style={progress === undefined ? undefined : { top: `${Math.round(progress * 100)}%` }}
      role="img"
      aria-label={label}
      title={t("trainPositionAt", { label, clock: formatClockSeconds(vehicle.recorded_at) })}
      data-testid="train-marker"
    >
      <span aria-hidden="true">▼</span>
    </span>
  );
}

/** The gap between two stations, with the trains running along it. */
function Gap({
  from,
  to,
  running,
  note,
}: {
  from: Pick<StationBoard, "name">;
  to: Pick<StationBoard, "name">;
  running: readonly { vehicle: VehiclePosition; progress: number }[];
  /** Where the gap leads off this segment ("joins the line at …"), shown beside it. */
  note?: string;
}) {
  const t = useTranslations("line");
  return (
    <div className={`diagram-segment${note ? " diagram-junction" : ""}`}>
      {running.map(({ vehicle, progress }) => (
        <TrainMarker
          key={vehicle.vehicle_id}
          vehicle={vehicle}
          progress={progress}
          label={t("trainBetween", { from: from.name, to: to.name, percent: Math.round(progress * 100) })}
        />
      ))}
      {note ? <span className="diagram-junction-note muted small">{note}</span> : null}
    </div>
  );
}

/**
 * One segment of a line's diagram (lib/format/topology) as a vertical strip map: each station with its next
 * departures, and the trains standing at stations or running between two of them (placed by their progress). A
 * segment the line forks into starts with the gap from the station it leaves; one that merges ends with the gap to
 * the station it joins. A stop whose board was not refreshed says so with its time and age.
 */
export function LineDiagram({
  segment,
  vehicles,
  now,
  staleAfterSeconds,
}: {
  segment: Segment<StationBoard>;
  vehicles: readonly VehiclePosition[];
  now: number;
  /** The line's freshness window, after which a stop's board reads as stale. */
  staleAfterSeconds?: number;
}) {
  const t = useTranslations("line");
  const tf = useTranslations("freshness");
  const { stations, entry, exit } = segment;
  const ids = stations.map((s) => s.station_id);
  const placed = placeVehicles([...(entry ? [entry.station_id] : []), ...ids, ...(exit ? [exit.station_id] : [])], vehicles);
  const first = stations[0];
  return (
    <ol className="diagram" data-testid="station-list">
      {entry && first ? (
        <li className="diagram-stop diagram-entry">
          <Gap
            from={entry}
            to={first}
            running={placed.between.get(entry.station_id) ?? []}
            note={t("forksAt", { station: entry.name })}
          />
        </li>
      ) : null}
      {stations.map((station, i) => {
        const next = stations[i + 1] ?? exit;
        const here = placed.atStation.get(station.station_id) ?? [];
        const departures = upcoming(station.departures, now).slice(0, DEPARTURES_PER_STATION);
        const note = stopNote(tf, station.freshness, now, staleAfterSeconds);
        const terminus = (i === 0 && !entry) || (i === stations.length - 1 && !exit);
        return (
          <li
            key={station.station_id}
            className="diagram-stop"
            data-testid="station-row"
            data-station-id={station.station_id}
            data-stop-status={station.freshness.status}
          >
            <div className="diagram-stop-row">
              <span className={`diagram-dot${terminus ? " is-terminus" : ""}`} aria-hidden="true" />
              <div className="diagram-stop-body">
                <Link href={`/stations/${encodeURIComponent(station.station_id)}`} className="diagram-stop-name">
                  {station.name}
                </Link>
                {here.map((vehicle) => (
                  <TrainMarker key={vehicle.vehicle_id} vehicle={vehicle} label={t("trainAt", { station: station.name })} />
                ))}
                <span className="diagram-departures">
                  {departures.length ? (
                    departures.map((departure, k) => (
                      <DepartureTime
                        key={`${departure.expected_at}-${k}`}
                        departure={departure}
                        now={now}
                        stale={note !== null}
                      />
                    ))
                  ) : note ? null : (
                    <span className="muted small">{tf("stop.noDeparture")}</span>
                  )}
                </span>
                {note ? (
                  <span className="stop-note" data-testid="stop-stale-note" title={note.spoken}>
                    <span aria-hidden="true">⚠ </span>
                    <span aria-hidden="true">{note.label}</span>
                    <span className="visually-hidden">{note.spoken}</span>
                  </span>
                ) : null}
              </div>
            </div>
            {next ? (
              <Gap
                from={station}
                to={next}
                running={placed.between.get(station.station_id) ?? []}
                note={next === exit && exit ? t("mergesAt", { station: exit.name }) : undefined}
              />
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}

/** What the train markers and the station dots mean. */
export function DiagramLegend() {
  const t = useTranslations("line");
  return (
    <figure className="diagram-legend" data-testid="diagram-legend">
      <figcaption className="diagram-legend-title">{t("legend")}</figcaption>
      <ul>
        <li>
          <span className="train-marker at-station" aria-hidden="true">
            <span>▼</span>
          </span>
          {t("legendAtStation")}
        </li>
        <li>
          <span className="train-marker legend-running" aria-hidden="true">
            <span>▼</span>
          </span>
          {t("legendBetween")}
        </li>
        <li>
          <span className="legend-dot diagram-dot is-terminus" aria-hidden="true" />
          {t("legendTerminus")}
        </li>
        <li>
          <span className="legend-dot diagram-dot" aria-hidden="true" />
          {t("legendStation")}
        </li>
      </ul>
    </figure>
  );
}
