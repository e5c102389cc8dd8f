import { describe, expect, it } from "vitest";

import { compactRanges } from "./ranges";

describe("compactRanges", () => {
  it("joins consecutive numbers into ranges", () => {
    expect(compactRanges([10, 0, 1, 2, 3, 7, 9, 3])).toBe("0-3, 7, 9-10");
    expect(compactRanges([5])).toBe("5");
    expect(compactRanges([])).toBe("");
  });
});
