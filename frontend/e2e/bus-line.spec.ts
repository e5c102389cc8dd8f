/** A bus line works like a rail line: opening it records a view, the fleet fetches it on demand (its stops from
 * PRIM's Navitia, then each stop's departures), and the page shows stops with departures, in the line's own IDFM
 * colour. Needs the viewing lease (opening a line queues a high-priority fetch task for it). */
import { expect, test } from "@playwright/test";

test("bus 38 shows its stops and departures on demand, in its own colour", async ({ page }) => {
  await page.goto("/lines/bus/38");
  await expect(page.getByRole("heading", { level: 1 })).toContainText("38");
  const badge = page.getByTestId("line-badge").first();
  await expect(badge).toHaveAttribute("data-colour", "#0055c8");

  // The page's own polling keeps the view alive while the fleet fetches the line.
  await expect.poll(() => page.getByTestId("station-row").count(), { timeout: 90_000 }).toBeGreaterThan(1);
  await expect.poll(() => page.getByTestId("countdown").count(), { timeout: 90_000 }).toBeGreaterThan(0);

  const stationLink = page
    .getByTestId("station-row")
    .filter({ has: page.getByTestId("countdown") })
    .first()
    .getByRole("link");
  await stationLink.click();
  await expect(page).toHaveURL(/\/stations\//);
  await expect.poll(() => page.getByTestId("departure-row").count(), { timeout: 30_000 }).toBeGreaterThan(0);
});
