/**
 * Favourite lines and stations, kept in the browser's localStorage (no account, nothing sent anywhere).
 * A snapshot of each favourite is stored so the home page can show it before any fetch.
 */
import type { LineRef } from "@/lib/api/types";

export type FavouriteLine = Pick<LineRef, "id" | "network" | "code" | "name" | "colour" | "text_colour">;
export interface FavouriteStation {
  id: string;
  name: string;
  town: string | null;
}
export interface Favourites {
  lines: FavouriteLine[];
  stations: FavouriteStation[];
}

export const FAVOURITES_STORAGE_KEY = "ratp-live-tracker.favourites.v1";
export const NO_FAVOURITES: Favourites = Object.freeze({ lines: [], stations: [] }) as Favourites;

/** Parses what localStorage holds, dropping anything malformed instead of failing. */
export function parseFavourites(raw: string | null): Favourites {
  if (!raw) return NO_FAVOURITES;
  try {
    const value = JSON.parse(raw) as Partial<Favourites>;
    const lines = Array.isArray(value.lines)
      ? value.lines.filter((l): l is FavouriteLine => !!l && typeof l.id === "string" && typeof l.code === "string")
      : [];
    const stations = Array.isArray(value.stations)
      ? value.stations.filter((s): s is FavouriteStation => !!s && typeof s.id === "string" && typeof s.name === "string")
      : [];
    return { lines, stations };
  } catch {
    return NO_FAVOURITES;
  }
}

export function toggleLine(favourites: Favourites, line: FavouriteLine): Favourites {
  const exists = favourites.lines.some((l) => l.id === line.id);
  return {
    ...favourites,
    lines: exists
      ? favourites.lines.filter((l) => l.id !== line.id)
      : [
          ...favourites.lines,
          {
            id: line.id,
            network: line.network,
            code: line.code,
            name: line.name,
            colour: line.colour,
            text_colour: line.text_colour,
          },
        ],
  };
}

export function toggleStation(favourites: Favourites, station: FavouriteStation): Favourites {
  const exists = favourites.stations.some((s) => s.id === station.id);
  return {
    ...favourites,
    stations: exists
      ? favourites.stations.filter((s) => s.id !== station.id)
      : [...favourites.stations, { id: station.id, name: station.name, town: station.town }],
  };
}
