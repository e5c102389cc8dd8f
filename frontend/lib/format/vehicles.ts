/**
 * Where to draw each train on a line diagram: at a station, or between two consecutive stations
 * with its progress along the way. Pure, so it is tested without rendering.
 */
import type { VehiclePosition } from "@/lib/api/types";

const AT_STOP_STATUSES = new Set(["at_stop", "stopped_at", "stopped", "at_platform", "arrived"]);

export interface PlacedVehicles {
  /** Trains standing at a station, by station id. */
  atStation: Map<string, VehiclePosition[]>;
  /** Trains running from the station (key) to the next one in the list, with progress in [0, 1]. */
  between: Map<string, { vehicle: VehiclePosition; progress: number }[]>;
  /** Trains whose stations are not on this list (another branch, unknown ids). */
  elsewhere: VehiclePosition[];
}

function clamp01(value: number | null): number {
  if (value === null || !Number.isFinite(value)) return 0.5;
  return Math.min(1, Math.max(0, value));
}

function push<T>(map: Map<string, T[]>, key: string, value: T) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Places the vehicles of one direction on one branch's ordered station ids. */
export function placeVehicles(stationIds: readonly string[], vehicles: readonly VehiclePosition[]): PlacedVehicles {
  const index = new Map(stationIds.map((id, i) => [id, i]));
  const placed: PlacedVehicles = { atStation: new Map(), between: new Map(), elsewhere: [] };
  for (const vehicle of vehicles) {
    const previous = vehicle.previous_station_id;
    const next = vehicle.next_station_id;
    const atStop = AT_STOP_STATUSES.has((vehicle.stop_status ?? "").toLowerCase());
    const previousIndex = previous === null ? undefined : index.get(previous);
    const nextIndex = next === null ? undefined : index.get(next);

    if ((atStop || previous === next) && (nextIndex !== undefined || previousIndex !== undefined)) {
      const station = nextIndex !== undefined ? next : previous;
      if (station !== null) push(placed.atStation, station, vehicle);
      continue;
    }
    if (previousIndex !== undefined && nextIndex === previousIndex + 1 && previous !== null) {
      push(placed.between, previous, { vehicle, progress: clamp01(vehicle.progress) });
      continue;
    }
    if (previousIndex === undefined && nextIndex !== undefined && nextIndex > 0) {
      // Only the next station is known: draw it just before that station.
      const from = stationIds[nextIndex - 1];
      if (from !== undefined) push(placed.between, from, { vehicle, progress: clamp01(vehicle.progress ?? 0.75) });
      continue;
    }
    if (previousIndex !== undefined && nextIndex === undefined && previousIndex < stationIds.length - 1) {
      push(placed.between, previous as string, { vehicle, progress: clamp01(vehicle.progress ?? 0.25) });
      continue;
    }
    placed.elsewhere.push(vehicle);
  }
  return placed;
}
