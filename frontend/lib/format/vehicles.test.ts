import { describe, expect, it } from "vitest";

import type { VehiclePosition } from "@/lib/api/types";

import { placeVehicles } from "./vehicles";

const STATIONS = ["a", "b", "c", "d"];

function vehicle(overrides: Partial<VehiclePosition>): VehiclePosition {
  return {
    vehicle_id: "v1",
    direction: "A",
    previous_station_id: null,
    next_station_id: null,
    progress: null,
    stop_status: null,
    recorded_at: "2025-11-29T10:00:00Z",
    ...overrides,
  };
}

describe("placeVehicles", () => {
  it("puts a running train between its previous and next station with its progress", () => {
    const placed = placeVehicles(STATIONS, [
      vehicle({ previous_station_id: "b", next_station_id: "c", progress: 0.4, stop_status: "in_transit" }),
    ]);
    expect(placed.between.get("b")?.[0]?.progress).toBe(0.4);
  });

  it("puts a train at a station when it is stopped there", () => {
    const placed = placeVehicles(STATIONS, [
      vehicle({ previous_station_id: "a", next_station_id: "b", stop_status: "at_stop" }),
    ]);
    expect(placed.atStation.get("b")).toHaveLength(1);
  });

  it("clamps progress and uses the middle when it is unknown", () => {
    const placed = placeVehicles(STATIONS, [
      vehicle({ vehicle_id: "x", previous_station_id: "a", next_station_id: "b", progress: 3 }),
      vehicle({ vehicle_id: "y", previous_station_id: "c", next_station_id: "d", progress: null }),
    ]);
    expect(placed.between.get("a")?.[0]?.progress).toBe(1);
    expect(placed.between.get("c")?.[0]?.progress).toBe(0.5);
  });

  it("keeps aside trains whose stations are not on this branch", () => {
    const placed = placeVehicles(STATIONS, [vehicle({ previous_station_id: "x", next_station_id: "y" })]);
    expect(placed.elsewhere).toHaveLength(1);
  });
});
