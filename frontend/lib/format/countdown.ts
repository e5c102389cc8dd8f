/**
 * What a departure board shows for one departure at a given instant: at the platform ("à quai"), imminent
 * ("< 1 min"), whole minutes ("4 min"), or cancelled. Pure and free of wording (the board words it in the rider's
 * language, `messages/` namespace `departure`), so the board can re-evaluate it every second between two fetches.
 */
import type { Departure } from "@/lib/api/types";

export type CountdownKind = "cancelled" | "at_platform" | "imminent" | "minutes" | "departed";

export interface Countdown {
  kind: CountdownKind;
  /** Whole minutes left (rounded down, as on RATP boards); null when cancelled or at the platform. */
  minutes: number | null;
}

/**
 * How long a train may stand "à quai" past its expected time before the board drops it: a train still at the
 * platform is worth showing, one the API said was there a minute ago has most likely left.
 */
export const AT_PLATFORM_GRACE_SECONDS = 60;

type DepartureTiming = Pick<Departure, "expected_at" | "status" | "vehicle_at_stop">;

/**
 * A departure whose expected time has passed is never shown as upcoming: it is "departed" (and dropped by
 * `upcoming`), whether it was on time or cancelled, unless the train is at the platform, for one minute at most.
 */
export function departureCountdown(departure: DepartureTiming, nowMs: number): Countdown {
  const expectedMs = Date.parse(departure.expected_at);
  const seconds = Number.isNaN(expectedMs) ? null : (expectedMs - nowMs) / 1000;
  const atPlatform = departure.vehicle_at_stop || departure.status === "at_platform";
  const passed =
    seconds !== null && (atPlatform && departure.status !== "cancelled" ? seconds < -AT_PLATFORM_GRACE_SECONDS : seconds < 0);
  if (passed) {
    return { kind: "departed", minutes: null };
  }
  if (departure.status === "cancelled") {
    return { kind: "cancelled", minutes: null };
  }
  if (atPlatform) {
    return { kind: "at_platform", minutes: null };
  }
  if (seconds === null) {
    return { kind: "minutes", minutes: null };
  }
  if (seconds < 60) {
    return { kind: "imminent", minutes: 0 };
  }
  return { kind: "minutes", minutes: Math.floor(seconds / 60) };
}

/** Minutes of delay against the timetable, when the API gave both times and the gap is at least a minute. */
export function delayMinutes(departure: Pick<Departure, "expected_at" | "aimed_at">): number | null {
  if (!departure.aimed_at) return null;
  const expected = Date.parse(departure.expected_at);
  const aimed = Date.parse(departure.aimed_at);
  if (Number.isNaN(expected) || Number.isNaN(aimed)) return null;
  const minutes = Math.round((expected - aimed) / 60_000);
  return minutes >= 1 ? minutes : null;
}

/** Departures still worth showing at `nowMs` (none whose time has passed), soonest first. */
export function upcoming<T extends DepartureTiming>(departures: readonly T[], nowMs: number): T[] {
  return departures
    .filter((d) => departureCountdown(d, nowMs).kind !== "departed")
    .sort((a, b) => Date.parse(a.expected_at) - Date.parse(b.expected_at));
}
