import type { Departure } from "@/lib/api/types";
import { delayMinutes, departureCountdown } from "@/lib/format/countdown";
import { formatClock } from "@/lib/format/time";

type TimedDeparture = Pick<Departure, "expected_at" | "aimed_at" | "status" | "vehicle_at_stop" | "is_realtime">;

/**
 * One departure as a countdown: a pulsing dot for real time, italic "théorique" for timetable estimates,
 * struck out and labelled when cancelled. The visible text is hidden from screen readers in favour of a
 * spoken sentence; none of it is a live region, so the ticking does not flood assistive technology. On a stale board
 * the real-time dot is left out.
 */
export function DepartureTime({
  departure,
  now,
  stale = false,
}: {
  departure: TimedDeparture;
  now: number;
  /** The board was not refreshed: no pulsing "real time" dot on a time that may have changed since. */
  stale?: boolean;
}) {
  const countdown = departureCountdown(departure, now);
  const delay = delayMinutes(departure);
  const live = departure.is_realtime;
  const clock = formatClock(departure.expected_at);
  const spoken = `${countdown.spoken} (${clock}${delay ? `, ${delay} min late` : ""}), ${
    live ? "real time" : "timetable estimate"
  }`;
  return (
    <span
      className={`departure-time departure-${countdown.kind} ${live ? "is-live" : "is-theoretical"}`}
      title={`${live ? "Real time" : "Timetable (théorique)"} · ${clock}`}
      data-testid="countdown"
      data-kind={countdown.kind}
      data-realtime={live ? "true" : "false"}
    >
      <span aria-hidden="true" className="departure-visual">
        {live && !stale && countdown.kind !== "cancelled" ? <span className="live-pulse" /> : null}
        {countdown.kind === "cancelled" ? (
          <>
            <s className="departure-value">{formatClock(departure.aimed_at ?? departure.expected_at)}</s>
            <span className="tag tag-cancelled">Cancelled</span>
          </>
        ) : (
          <span className="departure-value">{countdown.label}</span>
        )}
        {!live && countdown.kind !== "cancelled" ? <span className="theoretical-label">théorique</span> : null}
        {delay && countdown.kind !== "cancelled" ? <span className="tag tag-delay">+{delay} min</span> : null}
      </span>
      <span className="visually-hidden">{spoken}</span>
    </span>
  );
}
