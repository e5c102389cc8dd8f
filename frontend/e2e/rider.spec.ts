/** Rider pages: lines in their colours, a line's stations and departures, a station board counting down. */
import { expect, test } from "@playwright/test";

import { countdownTexts, openMetro1, typedPrefix } from "./helpers";

test("the home page lists lines as coloured badges per network", async ({ page }) => {
  await page.goto("/");
  const tabs = page.getByRole("tab");
  await expect.poll(() => tabs.count()).toBeGreaterThanOrEqual(1);
  await expect.poll(() => page.getByTestId("line-card").count()).toBeGreaterThan(0);

  const badge = page.getByTestId("line-card").first().getByTestId("line-badge");
  const declared = await badge.getAttribute("data-colour");
  expect(declared).toMatch(/^#[0-9a-f]{6}$/);
  const painted = await badge.evaluate((el) => getComputedStyle(el).backgroundColor);
  const [r, g, b] = (declared as string).match(/[0-9a-f]{2}/g)!.map((hex) => parseInt(hex, 16));
  expect(painted).toBe(`rgb(${r}, ${g}, ${b})`);
  await expect(page.getByTestId("line-card").first().getByTestId("traffic-badge")).toBeVisible();

  if ((await tabs.count()) > 1) {
    const firstIds = await page.getByTestId("line-card").evaluateAll((els) => els.map((e) => e.dataset.lineId));
    await tabs.nth(1).click();
    await expect(tabs.nth(1)).toHaveAttribute("aria-selected", "true");
    await expect
      .poll(async () => page.getByTestId("line-card").evaluateAll((els) => els.map((e) => e.dataset.lineId)))
      .not.toEqual(firstIds);
  }
});

test("the metro 1 page shows its stations with departures", async ({ page }) => {
  await openMetro1(page);
  await expect(page.getByRole("tab")).not.toHaveCount(0);
  await expect.poll(() => page.getByTestId("countdown").count(), { timeout: 45_000 }).toBeGreaterThan(0);
  await expect(page.getByTestId("freshness")).toContainText("Mis à jour");
});

test("a station board counts down", async ({ page }) => {
  await openMetro1(page);
  await expect.poll(() => page.getByTestId("countdown").count(), { timeout: 45_000 }).toBeGreaterThan(0);
  const stationLink = page
    .getByTestId("station-row")
    .filter({ has: page.getByTestId("countdown") })
    .first()
    .getByRole("link");
  await stationLink.click();
  await expect(page).toHaveURL(/\/stations\//);
  await expect.poll(() => page.getByTestId("departure-row").count(), { timeout: 30_000 }).toBeGreaterThan(0);
  await expect(page.getByTestId("board-summary")).toContainText("départ");

  const atPlatform = page.locator('[data-testid="countdown"][data-kind="at_platform"]');
  const before = await countdownTexts(page);
  // Minutes are whole: within 70 s some value changes, or a train is shown at the platform ("à quai").
  await expect
    .poll(
      async () => (await atPlatform.count()) > 0 || JSON.stringify(await countdownTexts(page)) !== JSON.stringify(before),
      { timeout: 75_000, intervals: [2_000] },
    )
    .toBe(true);
  if (await atPlatform.count()) await expect(atPlatform.first()).toContainText("à quai");
});

test("station search finds a station without accents and opens it from the keyboard", async ({ page }) => {
  await openMetro1(page);
  const name = (await page.getByTestId("station-row").first().getByRole("link").innerText()).trim();
  await page.goto("/");
  const search = page.getByRole("combobox", { name: "Trouver une gare" });
  await search.fill(typedPrefix(name));
  const options = page.getByRole("option");
  await expect.poll(() => options.count()).toBeGreaterThan(0);
  await expect(search).toHaveAttribute("aria-expanded", "true");
  await search.press("ArrowDown");
  await expect(options.first()).toHaveAttribute("aria-selected", "true");
  await search.press("Enter");
  await expect(page).toHaveURL(/\/stations\//);
  await expect(page.getByRole("heading", { level: 1 })).not.toBeEmpty();
});

test("a favourite line shows on the home page", async ({ page }) => {
  await openMetro1(page);
  const star = page.locator("header").getByRole("button", { name: /^Favori :/ });
  await star.click();
  await expect(star).toHaveAttribute("aria-pressed", "true");
  await page.goto("/");
  await expect(page.getByTestId("favourites").getByTestId("line-badge").first()).toBeVisible();
});
