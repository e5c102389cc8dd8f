"use client";

import Link from "next/link";
import { useTranslations } from "next-intl";
import { useState } from "react";

import { LineBadge } from "@/components/lines/LineBadge";
import { errorMessage } from "@/lib/api/errors";
import { useNearStations } from "@/lib/api/queries";

type Position = { lat: number; lon: number };
type Locating = { state: "idle" | "locating" | "denied" | "unsupported" } | { state: "unavailable"; reason: string };

/**
 * "Stations near me": the browser's position is asked only when the rider presses the button, then the API ranks
 * the stations by straight-line distance (no map service involved) with a walking time along that line.
 */
export function NearMe() {
  const t = useTranslations("near");
  const [position, setPosition] = useState<Position | null>(null);
  const [locating, setLocating] = useState<Locating>({ state: "idle" });
  const near = useNearStations(position);

  function locate() {
    if (!("geolocation" in navigator)) {
      setLocating({ state: "unsupported" });
      return;
    }
    setLocating({ state: "locating" });
    navigator.geolocation.getCurrentPosition(
      (found) => {
        setPosition({ lat: found.coords.latitude, lon: found.coords.longitude });
        setLocating({ state: "idle" });
      },
      (error) => {
        if (error.code === error.PERMISSION_DENIED) setLocating({ state: "denied" });
        else setLocating({ state: "unavailable", reason: error.message || String(error.code) });
      },
      { enableHighAccuracy: false, timeout: 15_000, maximumAge: 60_000 },
    );
  }

  const message =
    locating.state === "locating"
      ? t("locating")
      : locating.state === "denied"
        ? t("denied")
        : locating.state === "unsupported"
          ? t("unsupported")
          : locating.state === "unavailable"
            ? t("unavailable", { reason: locating.reason })
            : near.isError
              ? t("failed", { error: errorMessage(near.error) })
              : near.data && near.data.length === 0
                ? t("none")
                : "";

  return (
    <section className="near-me stack-sm" aria-labelledby="near-me-title" data-testid="near-me">
      <button type="button" className="button" onClick={locate} disabled={locating.state === "locating"}>
        {t("button")}
      </button>
      <p className="muted small">{t("privacy")}</p>
      <p role="status" data-testid="near-me-status">
        {message}
      </p>
      {near.data && near.data.length > 0 ? (
        <>
          <h2 id="near-me-title">{t("heading")}</h2>
          <ol className="near-me-list" data-testid="near-me-list">
            {near.data.map((station) => (
              <li key={station.station_id} data-testid="near-me-station">
                <Link href={`/stations/${encodeURIComponent(station.station_id)}`}>{station.name}</Link>{" "}
                <span className="muted">
                  {station.distance_m < 1000
                    ? t("distance", { metres: station.distance_m })
                    : t("distanceKm", { km: station.distance_m / 1000 })}
                  {" · "}
                  {t("walking", { minutes: station.walking_minutes })}
                </span>
                <span className="badges">
                  {station.lines.map((line) => (
                    <LineBadge key={line.id} line={line} size="sm" />
                  ))}
                </span>
              </li>
            ))}
          </ol>
        </>
      ) : (
        <h2 id="near-me-title" className="visually-hidden">
          {t("heading")}
        </h2>
      )}
    </section>
  );
}
