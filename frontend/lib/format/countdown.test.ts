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
    expect(departureCountdown(departure(4 * 60 + 59), NOW)).toMatchObject({ kind: "minutes", minutes: 4 });
    expect(departureCountdown(departure(60), NOW)).toMatchObject({ kind: "minutes", minutes: 1 });
  });

  it("shows '< 1 min' under a minute, down to the expected time itself", () => {
    expect(departureCountdown(departure(59), NOW)).toMatchObject({ kind: "imminent", minutes: 0 });
    expect(departureCountdown(departure(0), NOW)).toMatchObject({ kind: "imminent", minutes: 0 });
  });

  it("shows 'à quai' when the train is at the platform, up to a minute past its time", () => {
    expect(departureCountdown(departure(120, { vehicle_at_stop: true }), NOW)).toMatchObject({
      kind: "at_platform",
    });
    expect(departureCountdown(departure(-59, { status: "at_platform" }), NOW).kind).toBe("at_platform");
    expect(departureCountdown(departure(-61, { status: "at_platform" }), NOW).kind).toBe("departed");
    expect(departureCountdown(departure(-61, { vehicle_at_stop: true }), NOW).kind).toBe("departed");
  });

  it("shows a cancelled departure as cancelled, even when at the platform", () => {
    const countdown = departureCountdown(departure(300, { status: "cancelled", vehicle_at_stop: true }), NOW);
    expect(countdown).toMatchObject({ kind: "cancelled", minutes: null });
  });

  it("treats a departure whose time has passed as departed, never as '< 1 min' or a negative time", () => {
    expect(departureCountdown(departure(-1), NOW)).toMatchObject({ kind: "departed", minutes: null });
    expect(departureCountdown(departure(-20), NOW).kind).toBe("departed");
    expect(departureCountdown(departure(-3600), NOW).kind).toBe("departed");
  });

  it("treats a cancelled departure whose time has passed as departed, even when flagged at the platform", () => {
    expect(departureCountdown(departure(-5, { status: "cancelled" }), NOW).kind).toBe("departed");
    expect(departureCountdown(departure(-5, { status: "cancelled", vehicle_at_stop: true }), NOW).kind).toBe(
      "departed",
    );
  });

  it("ticks: the same departure reads differently a minute later", () => {
    const d = departure(150);
    expect(departureCountdown(d, NOW)).toMatchObject({ kind: "minutes", minutes: 2 });
    expect(departureCountdown(d, NOW + 60_000)).toMatchObject({ kind: "minutes", minutes: 1 });
    expect(departureCountdown(d, NOW + 100_000)).toMatchObject({ kind: "imminent", minutes: 0 });
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
  it("drops departures whose time has passed and sorts the rest soonest first", () => {
    const list = [
      departure(600),
      departure(-300),
      departure(30),
      departure(-1),
      departure(-300, { vehicle_at_stop: true }),
      departure(-30, { vehicle_at_stop: true }),
    ];
    expect(upcoming(list, NOW).map((d) => d.expected_at)).toEqual([at(-30), at(30), at(600)]);
  });

  it("drops a departure while the page stays open, once its time passes", () => {
    const list = [departure(45), departure(400)];
    expect(upcoming(list, NOW)).toHaveLength(2);
    expect(upcoming(list, NOW + 44_000)).toHaveLength(2);
    expect(upcoming(list, NOW + 46_000).map((d) => d.expected_at)).toEqual([at(400)]);
    expect(upcoming(list, NOW + 401_000)).toEqual([]);
  });
});
