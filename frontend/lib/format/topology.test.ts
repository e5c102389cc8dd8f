import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import { buildTopology, type Topology, type TopologyStation } from "./topology";

/** The catalogue's own routes (backend/catalogue/data/routes), as the API orders them: A as listed, R reversed. */
function routes(file: string, direction: "A" | "R"): TopologyStation[][] {
  const path = fileURLToPath(new URL(`../../../backend/catalogue/data/routes/${file}.json`, import.meta.url));
  const data = JSON.parse(readFileSync(path, "utf8")) as { routes: { stations: string[] }[] };
  return data.routes.map((route) => {
    const stations = route.stations.map((id) => ({ station_id: id, name: id }));
    return direction === "A" ? stations : stations.reverse();
  });
}

function segmentIds(topology: Topology<TopologyStation>): string[][][] {
  return topology.rows.map((row) => row.map((segment) => segment.stations.map((s) => s.station_id)));
}

function everyStationOnce(topology: Topology<TopologyStation>, input: TopologyStation[][]) {
  const drawn = topology.rows.flat().flatMap((segment) => segment.stations.map((s) => s.station_id));
  const distinct = new Set(input.flat().map((s) => s.station_id));
  expect(drawn.length).toBe(distinct.size);
  expect(new Set(drawn)).toEqual(distinct);
  expect(topology.stationCount).toBe(distinct.size);
}

describe("buildTopology", () => {
  it("draws RER A towards the east as three western branches, the trunk once, and two eastern ones", () => {
    const input = routes("rer-A", "A");
    const topology = buildTopology(input);
    everyStationOnce(topology, input);
    expect(topology.stationCount).toBeLessThan(input.flat().length);
    expect(topology.termini).toEqual(["marne-la-vallee-chessy", "boissy-saint-leger"]);
    expect(new Set(topology.origins)).toEqual(new Set(["cergy-le-haut", "saint-germain-en-laye", "poissy"]));

    const rows = segmentIds(topology);
    // Cergy-le-Haut and Poissy merge first, side by side.
    expect(rows[0]!.map((segment) => segment[0])).toEqual(["cergy-le-haut", "poissy"]);
    // Their common section runs beside the Saint-Germain-en-Laye branch, both merging into the trunk.
    expect(rows[1]!.map((segment) => segment[0]).sort()).toEqual(["maisons-laffitte", "saint-germain-en-laye"].sort());
    const trunk = rows[2]!;
    expect(trunk).toHaveLength(1);
    expect(trunk[0]).toContain("chatelet-les-halles");
    expect(topology.rows[2]![0]!.kind).toBe("trunk");
    // Then the line forks: each branch names its own terminus.
    const forks = topology.rows[3]!;
    expect(forks.map((s) => s.kind)).toEqual(["fork", "fork"]);
    expect(forks.map((s) => s.stations[s.stations.length - 1]!.station_id)).toEqual([
      "marne-la-vallee-chessy",
      "boissy-saint-leger",
    ]);
    expect(forks.every((s) => s.entry?.station_id === trunk[0]![trunk[0]!.length - 1])).toBe(true);
    expect(rows).toHaveLength(4);
  });

  it("draws RER A towards the west as the mirror image", () => {
    const input = routes("rer-A", "R");
    const topology = buildTopology(input);
    everyStationOnce(topology, input);
    expect(new Set(topology.termini)).toEqual(new Set(["cergy-le-haut", "saint-germain-en-laye", "poissy"]));
    expect(topology.rows[0]!.map((s) => s.kind)).toEqual(["source", "source"]);
    expect(topology.rows[1]!.map((s) => s.kind)).toEqual(["trunk"]);
    expect(topology.rows.at(-1)!.every((s) => s.kind === "fork")).toBe(true);
  });

  it("draws RER B as two southern branches, one trunk and two northern branches", () => {
    const input = routes("rer-B", "A");
    const topology = buildTopology(input);
    everyStationOnce(topology, input);
    expect(topology.rows.map((row) => row.map((s) => s.kind))).toEqual([
      ["source", "source"],
      ["trunk"],
      ["fork", "fork"],
    ]);
    const trunk = topology.rows[1]![0]!.stations.map((s) => s.station_id);
    expect(trunk[0]).toBe("bourg-la-reine");
    expect(trunk).toContain("gare-du-nord");
    expect(topology.rows[0]!.every((s) => s.exit?.station_id === "bourg-la-reine")).toBe(true);
    expect(topology.termini).toEqual(["aeroport-charles-de-gaulle-2-tgv", "mitry-claye"]);
  });

  it("draws metro 7 as one trunk forking after Maison Blanche", () => {
    const input = routes("metro-7", "A");
    const topology = buildTopology(input);
    everyStationOnce(topology, input);
    expect(topology.rows.map((row) => row.map((s) => s.kind))).toEqual([["trunk"], ["fork", "fork"]]);
    expect(topology.rows[0]![0]!.stations.at(-1)!.station_id).toBe("maison-blanche");
    expect(topology.termini).toEqual(["villejuif-louis-aragon", "mairie-d-ivry"]);
    // Towards La Courneuve the two branches merge back.
    const back = buildTopology(routes("metro-7", "R"));
    expect(back.rows.map((row) => row.map((s) => s.kind))).toEqual([["source", "source"], ["trunk"]]);
    expect(back.termini).toEqual(["la-courneuve-8-mai-1945"]);
  });

  it("draws metro 13 as two northern branches meeting at La Fourche", () => {
    const input = routes("metro-13", "A");
    const topology = buildTopology(input);
    everyStationOnce(topology, input);
    expect(topology.rows.map((row) => row.map((s) => s.kind))).toEqual([["source", "source"], ["trunk"]]);
    expect(topology.rows[1]![0]!.stations[0]!.station_id).toBe("la-fourche");
    expect(topology.origins).toEqual(["saint-denis-universite", "les-courtilles"]);
    expect(topology.termini).toEqual(["chatillon-montrouge"]);
  });

  it("draws an unbranched line as one segment", () => {
    const input = routes("metro-1", "A");
    const topology = buildTopology(input);
    expect(topology.rows).toHaveLength(1);
    expect(topology.rows[0]![0]!.kind).toBe("trunk");
    expect(topology.stationCount).toBe(input[0]!.length);
  });

  it("falls back to one row per route when the routes do not form an acyclic graph", () => {
    const a = { station_id: "a", name: "A" };
    const b = { station_id: "b", name: "B" };
    const topology = buildTopology([
      [a, b],
      [b, a],
    ]);
    expect(topology.rows.map((row) => row.map((s) => s.kind))).toEqual([["route"], ["route"]]);
    expect(topology.stationCount).toBe(2);
  });
});
