"use client";

import { useTranslations } from "next-intl";

import type { FavouriteLine, FavouriteStation } from "@/lib/favourites/favourites";
import { useFavourites } from "@/lib/favourites/useFavourites";

type FavouriteButtonProps =
  | { kind: "line"; line: FavouriteLine; label: string }
  | { kind: "station"; station: FavouriteStation; label: string };

/** A star toggling a line or a station in the favourites (aria-pressed tells its state). */
export function FavouriteButton(props: FavouriteButtonProps) {
  const t = useTranslations("favourites");
  const { favourites, toggleFavouriteLine, toggleFavouriteStation } = useFavourites();
  const active =
    props.kind === "line"
      ? favourites.lines.some((l) => l.id === props.line.id)
      : favourites.stations.some((s) => s.id === props.station.id);
  return (
    <button
      type="button"
      className={`favourite-button${active ? " is-active" : ""}`}
      aria-pressed={active}
      aria-label={t("toggle", { name: props.label })}
      title={active ? t("remove") : t("add")}
      onClick={() => (props.kind === "line" ? toggleFavouriteLine(props.line) : toggleFavouriteStation(props.station))}
    >
      <span aria-hidden="true">{active ? "★" : "☆"}</span>
    </button>
  );
}
