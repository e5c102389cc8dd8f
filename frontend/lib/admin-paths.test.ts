import { describe, expect, it } from "vitest";

import { safeNextPath } from "./admin-paths";

describe("safeNextPath", () => {
  it("keeps a path inside /admin with its query", () => {
    expect(safeNextPath("/admin/logs?level=ERROR")).toBe("/admin/logs?level=ERROR");
    expect(safeNextPath("/admin")).toBe("/admin");
  });

  it("never redirects elsewhere (open redirect) nor back to the login page", () => {
    for (const next of ["https://evil.test", "//evil.test/admin", "/\\evil.test", "/adminx", "/", "/admin/login", null]) {
      expect(safeNextPath(next)).toBe("/admin");
    }
  });
});
