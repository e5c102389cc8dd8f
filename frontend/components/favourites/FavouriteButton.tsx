"use client";

import type { FavouriteLine, FavouriteStation } from "@/lib/favourites/favourites";
import { useFavourites } from "@/lib/favourites/useFavourites";

type FavouriteButtonProps =
  | { kind: "line"; line: FavouriteLine; label: string }
  | { kind: "station"; station: FavouriteStation; label: string };

/** A star toggling a line or a station in the favourites (aria-pressed tells its state). */
export function FavouriteButton(props: FavouriteButtonProps) {
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
      aria-label={`Favourite: ${props.label}`}
      title={active ? "Remove from favourites" : "Add to favourites"}
      onClick={() => (props.kind === "line" ? toggleFavouriteLine(props.line) : toggleFavouriteStation(props.station))}
    >
      <span aria-hidden="true">{active ? "★" : "☆"}</span>
    </button>
  );
}
