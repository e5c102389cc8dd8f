import { useTranslations } from "next-intl";

import type { Departure } from "@/lib/api/types";
import { delayMinutes, departureCountdown, type Countdown } from "@/lib/format/countdown";
import { formatClock } from "@/lib/format/time";

type TimedDeparture = Pick<Departure, "expected_at" | "aimed_at" | "status" | "vehicle_at_stop" | "is_realtime">;
type DepartureText = ReturnType<typeof useTranslations<"departure">>;

/** What the board shows and what a screen reader says for a countdown, in the rider's language. */
function countdownText(t: DepartureText, countdown: Countdown): { label: string; spoken: string } {
  switch (countdown.kind) {
    case "cancelled":
      return { label: t("cancelled"), spoken: t("spokenCancelled") };
    case "departed":
      return { label: t("spokenDeparted"), spoken: t("spokenDeparted") };
    case "at_platform":
      return { label: t("atPlatform"), spoken: t("spokenAtPlatform") };
    case "imminent":
      return { label: t("imminent"), spoken: t("spokenImminent") };
    case "minutes":
      return countdown.minutes === null
        ? { label: t("unknown"), spoken: t("spokenUnknown") }
        : {
            label: t("minutes", { minutes: countdown.minutes }),
            spoken: t("spokenMinutes", { minutes: countdown.minutes }),
          };
  }
}

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
  const t = useTranslations("departure");
  const countdown = departureCountdown(departure, now);
  const shown = countdownText(t, countdown);
  const delay = delayMinutes(departure);
  const live = departure.is_realtime;
  const clock = formatClock(departure.expected_at);
  const spoken = t("spoken", { countdown: shown.spoken, clock, delay: delay ?? 0, realtime: live ? "yes" : "no" });
  return (
    <span
      className={`departure-time departure-${countdown.kind} ${live ? "is-live" : "is-theoretical"}`}
      title={t(live ? "titleRealtime" : "titleTheoretical", { clock })}
      data-testid="countdown"
      data-kind={countdown.kind}
      data-realtime={live ? "true" : "false"}
    >
      <span aria-hidden="true" className="departure-visual">
        {live && !stale && countdown.kind !== "cancelled" ? <span className="live-pulse" /> : null}
        {countdown.kind === "cancelled" ? (
          <>
            <s className="departure-value">{formatClock(departure.aimed_at ?? departure.expected_at)}</s>
            <span className="tag tag-cancelled">{t("cancelled")}</span>
          </>
        ) : (
          <span className="departure-value">{shown.label}</span>
        )}
        {!live && countdown.kind !== "cancelled" ? <span className="theoretical-label">{t("theoretical")}</span> : null}
        {delay && countdown.kind !== "cancelled" ? <span className="tag tag-delay">{t("late", { minutes: delay })}</span> : null}
      </span>
      <span className="visually-hidden">{spoken}</span>
    </span>
  );
}
