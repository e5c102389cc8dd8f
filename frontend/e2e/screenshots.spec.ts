/**
 * Screenshots of the main pages at the project's width (desktop 1280 px, phone 390 px) into E2E_ARTIFACTS_DIR,
 * dark-mode ones of the rider pages on desktop, and a check that rider pages never scroll sideways on a phone
 * (at 390 px, and at 360 px, the narrowest phones in use).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { expect, test, type Page } from "@playwright/test";

import { openMetro1 } from "./helpers";

async function shoot(page: Page, name: string) {
  const dir = test.info().config.metadata.artifactsDir as string;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${test.info().project.name}-${name}.png`), fullPage: true });
}

async function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

async function expectNoSidewaysScroll(page: Page) {
  expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(1);
  if (test.info().project.name !== "phone") return;
  const size = page.viewportSize();
  await page.setViewportSize({ width: 360, height: size?.height ?? 800 });
  expect(await sidewaysOverflow(page), "overflow at 360 px").toBeLessThanOrEqual(1);
  if (size) await page.setViewportSize(size);
}

async function shootDark(page: Page, name: string) {
  if (test.info().project.name !== "desktop") return;
  await page.emulateMedia({ colorScheme: "dark" });
  await shoot(page, `${name}-dark`);
  await page.emulateMedia({ colorScheme: "light" });
}

test("rider pages", async ({ page }) => {
  await page.goto("/");
  await expect.poll(() => page.getByTestId("line-card").count()).toBeGreaterThan(0);
  await expectNoSidewaysScroll(page);
  await shoot(page, "home");
  await shootDark(page, "home");

  await openMetro1(page);
  await expect.poll(() => page.getByTestId("countdown").count(), { timeout: 45_000 }).toBeGreaterThan(0);
  await expectNoSidewaysScroll(page);
  await shoot(page, "line-metro-1");
  await shootDark(page, "line-metro-1");

  await page.getByTestId("station-row").filter({ has: page.getByTestId("countdown") }).first().getByRole("link").click();
  await expect.poll(() => page.getByTestId("departure-row").count(), { timeout: 30_000 }).toBeGreaterThan(0);
  await expectNoSidewaysScroll(page);
  await shoot(page, "station");
  await shootDark(page, "station");
});

test("operator pages", async ({ page }) => {
  await page.goto("/admin/orchestrator");
  await expect.poll(() => page.getByTestId("worker-row").count()).toBeGreaterThan(0);
  await shoot(page, "orchestrator");

  await page.goto("/admin/logs");
  await expect.poll(() => page.getByTestId("log-row").count()).toBeGreaterThan(0);
  await shoot(page, "logs");
});
