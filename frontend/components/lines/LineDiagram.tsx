import Link from "next/link";
import { useTranslations } from "next-intl";

import { DepartureTime } from "@/components/departures/DepartureTime";
import type { Branch, VehiclePosition } from "@/lib/api/types";
import { upcoming } from "@/lib/format/countdown";
import { stopNote } from "@/lib/format/freshness";
import { formatClockSeconds } from "@/lib/format/time";
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

/**
 * One branch of one direction as a vertical strip map: each station with its next departures, and the
 * trains standing at stations or running between two of them (placed by their progress). A stop whose board was
 * not refreshed says so with its time and age ("as of 07:12 (9 min ago)").
 */
export function LineDiagram({
  branch,
  vehicles,
  now,
  staleAfterSeconds,
}: {
  branch: Branch;
  vehicles: readonly VehiclePosition[];
  now: number;
  /** The line's freshness window, after which a stop's board reads as stale. */
  staleAfterSeconds?: number;
}) {
  const t = useTranslations("line");
  const tf = useTranslations("freshness");
  const stations = [...branch.stations].sort((a, b) => a.position - b.position);
  const placed = placeVehicles(
    stations.map((s) => s.station_id),
    vehicles,
  );
  return (
    <ol className="diagram" data-testid="station-list">
      {stations.map((station, i) => {
        const next = stations[i + 1];
        const here = placed.atStation.get(station.station_id) ?? [];
        const running = placed.between.get(station.station_id) ?? [];
        const departures = upcoming(station.departures, now).slice(0, DEPARTURES_PER_STATION);
        const note = stopNote(tf, station.freshness, now, staleAfterSeconds);
        return (
          <li
            key={station.station_id}
            className="diagram-stop"
            data-testid="station-row"
            data-stop-status={station.freshness.status}
          >
            <div className="diagram-stop-row">
              <span className={`diagram-dot${i === 0 || !next ? " is-terminus" : ""}`} aria-hidden="true" />
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
              <div className="diagram-segment">
                {running.map(({ vehicle, progress }) => (
                  <TrainMarker
                    key={vehicle.vehicle_id}
                    vehicle={vehicle}
                    progress={progress}
                    label={t("trainBetween", { from: station.name, to: next.name, percent: Math.round(progress * 100) })}
                  />
                ))}
              </div>
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}
