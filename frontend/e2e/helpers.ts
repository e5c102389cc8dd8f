import { expect, type Page } from "@playwright/test";

/** The text of every countdown on the page, in order. */
export async function countdownTexts(page: Page): Promise<string[]> {
  return page.getByTestId("countdown").locator(".departure-visual").allInnerTexts();
}

/** Opens the metro 1 page and waits for its stations. */
export async function openMetro1(page: Page) {
  await page.goto("/lines/metro/1");
  await expect(page.getByRole("heading", { level: 1 })).toContainText("1");
  await expect.poll(() => page.getByTestId("station-row").count()).toBeGreaterThan(1);
}

/** "Châtelet" -> "chatel": what a rider types, without accents or capitals. */
export function typedPrefix(name: string): string {
  return name
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .slice(0, 6);
}
