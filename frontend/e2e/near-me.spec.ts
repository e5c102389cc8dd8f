/** "Stations near me": the position is asked only on the rider's click; the nearest stations come with a
 * straight-line distance and a walking time, with no map service. Playwright grants a fixed position. */
import { expect, test } from "@playwright/test";

// 40 m east of Châtelet (metro 1, 4, 7, 11, 14), in the 1st arrondissement.
const NEAR_CHATELET = { latitude: 48.85871, longitude: 2.34776 };

test.use({ geolocation: NEAR_CHATELET, permissions: ["geolocation"] });

test("near me lists the nearest stations with distance and walking time, Châtelet first", async ({
  page,
  context,
  baseURL,
}) => {
  // Granted for the dashboard's own origin: Chromium answers "denied" to an origin it was not granted for.
  await context.grantPermissions(["geolocation"], { origin: new URL(baseURL ?? "http://127.0.0.1:3000").origin });
  await context.setGeolocation(NEAR_CHATELET);
  await page.goto("/");
  const section = page.getByTestId("near-me");
  await expect(section.getByTestId("near-me-list")).toHaveCount(0); // nothing asked before the click
  await section.getByRole("button", { name: "Stations autour de moi" }).click();

  const stations = section.getByTestId("near-me-station");
  await expect.poll(() => stations.count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
  await expect(stations.first().getByRole("link")).toHaveText("Châtelet");
  await expect(stations.first()).toContainText("m à vol d’oiseau");
  await expect(stations.first()).toContainText("à pied");
  await expect(stations.first().getByTestId("line-badge").first()).toBeVisible();

  await stations.first().getByRole("link").click();
  await expect(page).toHaveURL(/\/stations\/chatelet$/);
});

test.describe("when the rider refuses to share the position", () => {
  test.use({ permissions: [] });

  test("near me says how to allow it and lists nothing", async ({ page, context }) => {
    await context.clearPermissions();
    await page.goto("/");
    const section = page.getByTestId("near-me");
    await section.getByRole("button", { name: "Stations autour de moi" }).click();
    await expect(section.getByTestId("near-me-status")).toContainText("Position non partagée", { timeout: 15_000 });
    await expect(section.getByTestId("near-me-station")).toHaveCount(0);
  });
});
