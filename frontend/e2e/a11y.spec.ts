/**
 * Accessibility as Lighthouse checks it: axe-core on every page, rider and operator, at the project's width, with
 * no serious or critical violation (each violation is listed with its nodes in the failure message).
 */
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";

async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(", ")}`);
}

const PAGES: { path: string; ready: (page: Page) => Promise<void> }[] = [
  { path: "/", ready: async (page) => expect.poll(() => page.getByTestId("line-card").count()).toBeGreaterThan(0) },
  {
    path: "/lines/metro/1",
    ready: async (page) => expect.poll(() => page.getByTestId("station-row").count()).toBeGreaterThan(1),
  },
  {
    path: "/lines/rer/A",
    ready: async (page) => expect.poll(() => page.getByTestId("station-row").count()).toBeGreaterThan(1),
  },
  { path: "/lines/metro/does-not-exist", ready: async (page) => expect(page.locator("main h1")).toBeVisible() },
  { path: "/admin", ready: async (page) => expect(page.getByTestId("admin-session")).toBeVisible() },
  {
    path: "/admin/orchestrator",
    ready: async (page) => expect.poll(() => page.getByTestId("worker-row").count()).toBeGreaterThan(0),
  },
  { path: "/admin/logs", ready: async (page) => expect.poll(() => page.getByTestId("log-row").count()).toBeGreaterThan(0) },
  { path: "/admin/login", ready: async (page) => expect(page.locator("main h1")).toBeVisible() },
  { path: "/no-such-page", ready: async (page) => expect(page.locator("main h1")).toBeVisible() },
];

for (const { path, ready } of PAGES) {
  test(`no serious accessibility violation on ${path}`, async ({ page }) => {
    await page.goto(path);
    await ready(page);
    expect(await seriousViolations(page)).toEqual([]);
  });
}

test("no serious accessibility violation on a station board", async ({ page }) => {
  await page.goto("/lines/metro/1");
  await expect.poll(() => page.getByTestId("station-row").count()).toBeGreaterThan(1);
  await page.getByTestId("station-row").first().getByRole("link").click();
  await expect(page.getByTestId("station-board")).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
});
