/** The log observatory: filters by level and text, kept in the URL so reloading reproduces the view. */
import { expect, test } from "@playwright/test";

test("filters by level and text, and the URL reproduces the view", async ({ page, context }) => {
  await page.goto("/admin/logs");
  const rows = page.getByTestId("log-row");
  await expect.poll(() => rows.count()).toBeGreaterThan(0);

  const first = rows.first();
  const level = (await first.getAttribute("data-level")) as string;
  const message = await first.locator(".log-message").innerText();
  const word = message.match(/[A-Za-z]{4,}/)?.[0] ?? message.slice(0, 4);

  await page.getByTestId("log-filter-level").selectOption(level);
  await page.getByTestId("log-filter-search").fill(word);
  await expect(page).toHaveURL(new RegExp(`level=${level}.*search=${encodeURIComponent(word)}`));
  await expect.poll(() => rows.count()).toBeGreaterThan(0);

  const checkView = async (p: typeof page) => {
    await expect(p.getByTestId("log-filter-level")).toHaveValue(level);
    await expect(p.getByTestId("log-filter-search")).toHaveValue(word);
    await expect.poll(() => p.getByTestId("log-row").count()).toBeGreaterThan(0);
    // Polled: the list keeps the previous rows on screen until the filtered answer replaces them.
    await expect
      .poll(async () => new Set(await p.getByTestId("log-row").evaluateAll((els) => els.map((e) => e.getAttribute("data-level")))))
      .toEqual(new Set([level]));
    // The search looks in the message and the extra fields (shown when a row is expanded): textContent has both.
    await expect
      .poll(async () =>
        (await p.getByTestId("log-row").allTextContents())
          .slice(0, 20)
          .filter((text) => !text.toLowerCase().includes(word.toLowerCase())),
      )
      .toEqual([]);
  };
  await checkView(page);

  await page.reload();
  await checkView(page);

  const shared = await context.newPage();
  await shared.goto(page.url());
  await checkView(shared);
});

test("live tail connects and can be paused", async ({ page }) => {
  await page.goto("/admin/logs");
  await page.getByTestId("live-tail-toggle").click();
  await expect(page.getByTestId("live-tail-toggle")).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByTestId("log-summary")).toContainText("suivi en direct actif", { timeout: 20_000 });
  await page.getByTestId("live-tail-pause").click();
  await expect(page.getByTestId("log-summary")).toContainText("(en pause)");
  await expect(page.getByTestId("live-tail-pause")).toHaveText(/Reprendre/);
});
