import { describe, expect, it } from "vitest";

import { delayMinutes, departureCountdown, upcoming } from "./countdown";

const NOW = Date.parse("2025-11-29T10:00:00Z");
const at = (seconds: number) => new Date(NOW + seconds * 1000).toISOString();
const departure = (seconds: number, extra: Partial<Parameters<typeof departureCountdown>[0]> = {}) => ({
  expected_at: at(seconds),
  status: "on_time" as const,
  vehicle_at_stop: false,
  ...extra,
});

describe("departureCountdown", () => {
  it("shows whole minutes rounded down", () => {
    expect(departureCountdown(departure(4 * 60 + 59), NOW)).toMatchObject({ kind: "minutes", label: "4 min", minutes: 4 });
    expect(departureCountdown(departure(60), NOW)).toMatchObject({ label: "1 min", spoken: "in 1 minute" });
  });

  it("shows '< 1 min' under a minute, including a train just due", () => {
    expect(departureCountdown(departure(59), NOW)).toMatchObject({ kind: "imminent", label: "< 1 min" });
    expect(departureCountdown(departure(-20), NOW)).toMatchObject({ kind: "imminent", label: "< 1 min" });
  });

  it("shows 'à quai' when the train is at the platform, whatever its time", () => {
    expect(departureCountdown(departure(120, { vehicle_at_stop: true }), NOW)).toMatchObject({
      kind: "at_platform",
      label: "à quai",
    });
    expect(departureCountdown(departure(-90, { status: "at_platform" }), NOW).label).toBe("à quai");
  });

  it("shows a cancelled departure as cancelled, even when at the platform", () => {
    const countdown = departureCountdown(departure(300, { status: "cancelled", vehicle_at_stop: true }), NOW);
    expect(countdown).toMatchObject({ kind: "cancelled", label: "Cancelled", minutes: null });
  });

  it("treats a departure over a minute in the past as departed", () => {
    expect(departureCountdown(departure(-61), NOW).kind).toBe("departed");
  });

  it("ticks: the same departure reads differently a minute later", () => {
    const d = departure(150);
    expect(departureCountdown(d, NOW).label).toBe("2 min");
    expect(departureCountdown(d, NOW + 60_000).label).toBe("1 min");
    expect(departureCountdown(d, NOW + 100_000).label).toBe("< 1 min");
  });
});

describe("delayMinutes", () => {
  it("gives the delay against the timetable from one minute on", () => {
    expect(delayMinutes({ expected_at: at(300), aimed_at: at(60) })).toBe(4);
    expect(delayMinutes({ expected_at: at(300), aimed_at: at(280) })).toBeNull();
    expect(delayMinutes({ expected_at: at(300), aimed_at: null })).toBeNull();
  });
});

describe("upcoming", () => {
  it("drops departed trains and sorts the rest soonest first", () => {
    const list = [departure(600), departure(-300), departure(30), departure(-300, { vehicle_at_stop: true })];
    expect(upcoming(list, NOW).map((d) => d.expected_at)).toEqual([at(-300), at(30), at(600)]);
  });
});
