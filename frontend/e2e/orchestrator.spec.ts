/** The orchestrator console: live worker fleet, scaling from the UI, the scheduler trigger. */
import { expect, test, type Page } from "@playwright/test";

async function activeWorkers(page: Page): Promise<number> {
  return Number(await page.getByTestId("worker-active-count").innerText());
}

async function newestScheduledAt(page: Page): Promise<number> {
  const values = await page
    .getByTestId("task-row")
    .evaluateAll((rows) => rows.map((row) => Date.parse(row.getAttribute("data-scheduled-at") ?? "")));
  return values.length ? Math.max(...values.filter(Number.isFinite)) : 0;
}

test.beforeEach(async ({ page }) => {
  await page.goto("/admin/orchestrator");
  await expect(page.getByRole("heading", { name: "Orchestrateur" })).toBeVisible();
});

test("shows the worker fleet", async ({ page }) => {
  await expect.poll(() => page.getByTestId("worker-row").count()).toBeGreaterThan(0);
  await expect(page.getByTestId("worker-row").first().locator("[data-status]").first()).toBeVisible();
  await expect(page.getByTestId("queue-queued")).toBeVisible();
  await expect(page.getByTestId("tasks-total")).toBeVisible();
});

test("adding a worker grows the fleet", async ({ page }) => {
  await expect.poll(() => page.getByTestId("worker-row").count()).toBeGreaterThan(0);
  const before = await activeWorkers(page);
  const add = page.getByTestId("add-worker");
  await add.click();
  await expect(page.getByTestId("scale-outcome")).toContainText(/requested|failed/, { timeout: 60_000 });
  await expect(page.getByTestId("scale-outcome")).not.toContainText("Scaling failed");
  await expect.poll(() => activeWorkers(page), { timeout: 30_000 }).toBeGreaterThan(before);

  // Put the fleet back as it was.
  await page.getByTestId("remove-worker").click();
  await expect(page.getByTestId("scale-outcome")).toContainText("requested", { timeout: 60_000 });
  await expect.poll(() => activeWorkers(page), { timeout: 30_000 }).toBeLessThanOrEqual(before);
});

test("the scheduler trigger creates new task runs", async ({ page }) => {
  await expect(page.getByTestId("task-table").or(page.getByText("Aucune tâche"))).toBeVisible();
  const before = await newestScheduledAt(page);
  const outcome = page.getByTestId("scheduler-outcome").locator("[data-enqueued]");
  // Lines whose previous task is still active are coalesced; retry a few times until some are enqueued.
  let enqueued = 0;
  for (let attempt = 0; attempt < 4 && enqueued === 0; attempt += 1) {
    if (attempt) await page.waitForTimeout(5_000);
    const previousRun = (await outcome.count()) ? await outcome.getAttribute("data-run-id") : null;
    await page.getByTestId("trigger-scheduler").click();
    await expect(outcome).toBeVisible();
    await expect.poll(() => outcome.getAttribute("data-run-id")).not.toBe(previousRun);
    enqueued = Number(await outcome.getAttribute("data-enqueued"));
  }
  expect(enqueued).toBeGreaterThan(0);
  await expect.poll(() => newestScheduledAt(page), { timeout: 30_000 }).toBeGreaterThan(before);
});
