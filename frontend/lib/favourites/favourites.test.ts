import { describe, expect, it } from "vitest";

import { NO_FAVOURITES, parseFavourites, toggleLine, toggleStation } from "./favourites";

const METRO_1 = { id: "metro:1", network: "metro" as const, code: "1", name: "Métro 1", colour: "#FFCD00", text_colour: "#000000" };

describe("favourites", () => {
  it("adds then removes a line", () => {
    const added = toggleLine(NO_FAVOURITES, METRO_1);
    expect(added.lines.map((l) => l.id)).toEqual(["metro:1"]);
    expect(toggleLine(added, METRO_1).lines).toEqual([]);
  });

  it("adds then removes a station", () => {
    const station = { id: "chatelet", name: "Châtelet", town: "Paris" };
    const added = toggleStation(NO_FAVOURITES, station);
    expect(added.stations).toEqual([station]);
    expect(toggleStation(added, station).stations).toEqual([]);
  });

  it("survives what another version (or a person) left in localStorage", () => {
    expect(parseFavourites("not json")).toEqual(NO_FAVOURITES);
    expect(parseFavourites(null)).toEqual(NO_FAVOURITES);
    expect(parseFavourites(JSON.stringify({ lines: [METRO_1, { id: 3 }], stations: "x" }))).toEqual({
      lines: [METRO_1],
      stations: [],
    });
  });
});
