/**
 * Phone first, French first: at 1280 and 390 px (desktop and phone projects) no tab or control is cut off (each lies
 * inside the viewport, or inside a scroll container that does); tabs show their whole label; RER A is drawn as its
 * real shape (trunk once, one branch per terminus); the language switch keeps its choice; the PWA manifest is served.
 * Screenshots of the RER A page and the operator pages go to E2E_ARTIFACTS_DIR.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { expect, test, type Page } from "@playwright/test";

async function shoot(page: Page, name: string) {
  const dir = test.info().config.metadata.artifactsDir as string;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${test.info().project.name}-${name}.png`), fullPage: true });
}

/** Visible tabs and controls that stick out of the viewport with no scroll container holding them, or whose
 * label is clipped. Each as a short description, for the failure message. */
async function cutOffControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = window.innerWidth;
    const inside = (r: DOMRect) => r.left >= -1 && r.right <= width + 1;
    const scrollParent = (el: Element): Element | null => {
      for (let p = el.parentElement; p; p = p.parentElement) {
        const overflow = getComputedStyle(p).overflowX;
        if ((overflow === "auto" || overflow === "scroll") && p.scrollWidth > p.clientWidth) return p;
      }
      return null;
    };
    const offenders: string[] = [];
    const controls = document.querySelectorAll('[role="tab"], button, a[href], select, input, summary');
    for (const el of controls) {
      const rect = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (rect.width === 0 || rect.height === 0 || style.visibility === "hidden") continue;
      if (el.closest(".visually-hidden, .skip-link")) continue;
      const label = `${el.tagName.toLowerCase()} "${(el.textContent ?? "").trim().slice(0, 40)}"`;
      if (!inside(rect)) {
        const holder = scrollParent(el);
        if (!holder || !inside(holder.getBoundingClientRect())) offenders.push(`${label} at ${rect.left}-${rect.right}`);
      }
      if (el.getAttribute("role") === "tab" && el.scrollWidth > el.clientWidth + 1) offenders.push(`${label} clipped`);
    }
    return offenders;
  });
}

const PAGES = ["/", "/lines/rer/A", "/lines/metro/13", "/admin/orchestrator", "/admin/logs"];

for (const path of PAGES) {
  test(`no tab or control is cut off on ${path}`, async ({ page }) => {
    await page.goto(path);
    await expect(page.locator("main h1").first()).toBeVisible();
    if (path.startsWith("/lines/")) await expect.poll(() => page.getByTestId("station-row").count()).toBeGreaterThan(1);
    if (path === "/") await expect.poll(() => page.getByTestId("line-card").count()).toBeGreaterThan(0);
    if (path === "/admin/orchestrator") await expect.poll(() => page.getByTestId("worker-row").count()).toBeGreaterThan(0);
    expect(await cutOffControls(page)).toEqual([]);
    if (path === "/") {
      // Every network tab, the last one (Bus) included, is on screen once the rider scrolls down to the tabs (a
      // notice above them, such as the one saying no line is live, may push them below a phone's first screen).
      const tabs = page.getByRole("tab");
      await tabs.first().scrollIntoViewIfNeeded();
      for (let i = 0; i < (await tabs.count()); i++) await expect(tabs.nth(i)).toBeInViewport();
    }
  });
}

test("RER A is drawn as its real shape, each station once, with a legend", async ({ page }) => {
  await page.goto("/lines/rer/A");
  await expect.poll(() => page.getByTestId("station-row").count()).toBeGreaterThan(1);
  const tabs = page.getByRole("tab");
  await expect(tabs).toHaveCount(2);
  for (let i = 0; i < 2; i++) await expect(tabs.nth(i)).toBeInViewport();

  // Towards the east: three western branches merge, the trunk once, two eastern branches each to its terminus.
  await tabs.first().click();
  const segments = page.getByTestId("line-segment");
  await expect(segments.filter({ hasText: "Branche vers Marne-la-Vallée Chessy" })).toHaveCount(1);
  await expect(segments.filter({ hasText: "Branche vers Boissy-Saint-Léger" })).toHaveCount(1);
  await expect(page.locator('[data-kind="trunk"]')).toHaveCount(1);
  await expect(page.locator('[data-station-id="chatelet-les-halles"]')).toHaveCount(1);
  const ids = await page.getByTestId("station-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-station-id")));
  expect(new Set(ids).size).toBe(ids.length);
  await expect(page.getByTestId("direction-summary")).toContainText(`${ids.length} stations`);
  await expect(page.getByTestId("diagram-legend")).toBeVisible();
  await shoot(page, "line-rer-A");

  // Towards the west: the same stations, once each.
  await tabs.nth(1).click();
  await expect(tabs.nth(1)).toHaveAttribute("aria-selected", "true");
  await expect(segments.filter({ hasText: "Branche vers Cergy-le-Haut" })).toHaveCount(1);
  const back = await page.getByTestId("station-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-station-id")));
  expect(new Set(back)).toEqual(new Set(ids));
});

test("metro 13 shows its two northern branches merging at La Fourche", async ({ page }) => {
  await page.goto("/lines/metro/13");
  await expect.poll(() => page.getByTestId("station-row").count()).toBeGreaterThan(1);
  const tabs = page.getByRole("tab");
  const labels = await tabs.allInnerTexts();
  const towardsSouth = labels.findIndex((label) => label.includes("Châtillon"));
  await tabs.nth(towardsSouth).click();
  await expect(page.locator('[data-kind="source"]')).toHaveCount(2);
  await expect(page.locator('[data-station-id="la-fourche"]')).toHaveCount(1);
  await shoot(page, "line-metro-13");
});

test("the interface is French by default and the language switch keeps the rider's choice", async ({ page }) => {
  await page.context().clearCookies({ name: "NEXT_LOCALE" });
  await page.goto("/");
  await expect(page.locator("html")).toHaveAttribute("lang", "fr");
  await expect(page.getByTestId("home-headline")).toContainText("Prochains passages");
  await page.getByRole("button", { name: "English" }).click();
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await expect(page.getByTestId("home-headline")).toContainText("Next departures");
  await page.reload();
  await expect(page.getByTestId("home-headline")).toContainText("Next departures");
  await expect(page.getByRole("button", { name: "English" })).toHaveAttribute("aria-pressed", "true");
  await page.getByRole("button", { name: "Français" }).click();
  await expect(page.locator("html")).toHaveAttribute("lang", "fr");
});

test("the web app manifest lets a rider add the tracker to the home screen", async ({ page }) => {
  await page.goto("/");
  const href = await page.locator('link[rel="manifest"]').getAttribute("href");
  expect(href).toBeTruthy();
  const response = await page.request.get(href as string);
  expect(response.ok()).toBe(true);
  const manifest = (await response.json()) as {
    name: string;
    start_url: string;
    display: string;
    theme_color: string;
    icons: { src: string; sizes: string }[];
  };
  expect(manifest).toMatchObject({ name: "RATP Live Tracker", start_url: "/", display: "standalone" });
  expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
  expect(manifest.icons.map((icon) => icon.sizes)).toEqual(expect.arrayContaining(["192x192", "512x512"]));
  for (const icon of manifest.icons) expect((await page.request.get(icon.src)).ok()).toBe(true);
});

test("operator pages on this screen", async ({ page }) => {
  await page.goto("/admin/orchestrator");
  await expect.poll(() => page.getByTestId("worker-row").count()).toBeGreaterThan(0);
  await expect(page.getByTestId("page-sections")).toBeVisible();
  await shoot(page, "orchestrator-stacked");
});
