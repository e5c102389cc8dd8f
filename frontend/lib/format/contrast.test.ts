import { describe, expect, it } from "vitest";

import {
  FALLBACK_LINE_COLOUR,
  badgeColours,
  contrastRatio,
  normaliseHex,
  readableTextColour,
} from "./contrast";

describe("contrast helpers", () => {
  it("normalises the colour forms of the catalogue and the API", () => {
    expect(normaliseHex("FFCD00")).toBe("#ffcd00");
    expect(normaliseHex("#fc0")).toBe("#ffcc00");
    expect(normaliseHex("")).toBeNull();
    expect(normaliseHex("yellow")).toBeNull();
  });

  it("computes WCAG contrast ratios", () => {
    expect(contrastRatio("#000000", "#ffffff")).toBeCloseTo(21, 5);
    expect(contrastRatio("#777777", "#777777")).toBeCloseTo(1, 5);
  });

  it("keeps the official text colour when it reads well", () => {
    expect(readableTextColour("#003ca6", "#FFFFFF")).toBe("#ffffff");
  });

  it("replaces an unreadable text colour (white on yellow metro 1) by black", () => {
    expect(readableTextColour("#ffcd00", "#ffffff")).toBe("#000000");
    expect(contrastRatio("#ffcd00", readableTextColour("#ffcd00", "#ffffff"))).toBeGreaterThanOrEqual(4.5);
  });

  it("picks black or white when no text colour is given", () => {
    expect(readableTextColour("#ffcd00")).toBe("#000000");
    expect(readableTextColour("#62259d")).toBe("#ffffff");
  });

  it("rings a yellow badge on a light page and a dark-blue badge on a dark page", () => {
    const yellow = badgeColours("#FFCD00", "#000000");
    expect(yellow.ringLight).not.toBe("transparent");
    expect(yellow.ringDark).toBe("transparent");
    const blue = badgeColours("#003CA6", "#FFFFFF");
    expect(blue.ringLight).toBe("transparent");
    expect(blue.ringDark).not.toBe("transparent");
  });

  it("falls back to a neutral colour for lines without one (e.g. T10)", () => {
    const badge = badgeColours("", "");
    expect(badge.background).toBe(FALLBACK_LINE_COLOUR);
    expect(contrastRatio(badge.background, badge.text)).toBeGreaterThanOrEqual(4.5);
  });

  it("gives readable text on every catalogue colour", () => {
    const colours = ["ffcd00", "003ca6", "837902", "6ec4e8", "cf009e", "ff7e2e", "6eca97", "fa9aba", "e19bdf",
      "b6bd00", "c9910d", "704b1c", "007852", "62259d", "eb2132", "5091cb", "ffcc30", "008b5b", "b94e9a", "00ae41",
      "dfaf47", "e2231a", "f58f53", "8d653d"];
    for (const colour of colours) {
      const badge = badgeColours(colour, null);
      expect(contrastRatio(badge.background, badge.text), colour).toBeGreaterThanOrEqual(4.5);
    }
  });
});
