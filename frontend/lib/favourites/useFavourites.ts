"use client";

import { useCallback, useSyncExternalStore } from "react";

import {
  FAVOURITES_STORAGE_KEY,
  NO_FAVOURITES,
  parseFavourites,
  toggleLine,
  toggleStation,
  type FavouriteLine,
  type FavouriteStation,
  type Favourites,
} from "./favourites";

const CHANGE_EVENT = "ratp-favourites-change";

let cachedRaw: string | null = null;
let cachedValue: Favourites = NO_FAVOURITES;

function snapshot(): Favourites {
  let raw: string | null = null;
  try {
    raw = window.localStorage.getItem(FAVOURITES_STORAGE_KEY);
  } catch {
    return NO_FAVOURITES;
  }
  if (raw !== cachedRaw) {
    cachedRaw = raw;
    cachedValue = parseFavourites(raw);
  }
  return cachedValue;
}

function subscribe(onChange: () => void): () => void {
  const onStorage = (event: StorageEvent) => {
    if (event.key === null || event.key === FAVOURITES_STORAGE_KEY) onChange();
  };
  window.addEventListener("storage", onStorage);
  window.addEventListener(CHANGE_EVENT, onChange);
  return () => {
    window.removeEventListener("storage", onStorage);
    window.removeEventListener(CHANGE_EVENT, onChange);
  };
}

function save(next: Favourites) {
  try {
    window.localStorage.setItem(FAVOURITES_STORAGE_KEY, JSON.stringify(next));
  } catch {
    // Private browsing or a full quota: favourites then last for this page view only.
    cachedRaw = JSON.stringify(next);
    cachedValue = next;
  }
  window.dispatchEvent(new Event(CHANGE_EVENT));
}

/** Favourites shared by every component and every tab (the storage event syncs other tabs). */
export function useFavourites() {
  const favourites = useSyncExternalStore(subscribe, snapshot, () => NO_FAVOURITES);
  const toggleFavouriteLine = useCallback((line: FavouriteLine) => save(toggleLine(snapshot(), line)), []);
  const toggleFavouriteStation = useCallback(
    (station: FavouriteStation) => save(toggleStation(snapshot(), station)),
    [],
  );
  return { favourites, toggleFavouriteLine, toggleFavouriteStation };
}
