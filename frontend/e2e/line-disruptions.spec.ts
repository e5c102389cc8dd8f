/**
 * A line's disruptions, as a rider on a phone meets them: the stub upstream is given a traffic feed (PRIM's
 * `disruptions_bulk`) with a blocking disruption of metro 1 holding now, one to come, and one that ended an hour ago
 * (PRIM still lists those for about an hour); once the fleet has read the feed, metro 1's page shows the first two,
 * current first, with the severity, the period in Paris time, the affected section and the full message as text,
 * and never the ended one. Needs the stub's control API (E2E_STUB_URL, local e2e); the feed is reset afterwards.
 */
import { expect, test } from "@playwright/test";

import { fr } from "../messages/fr";

const stub = process.env.E2E_STUB_URL;
const FEED_TIMEOUT = 150_000;
const HOUR = 3_600_000;

test.skip(!stub, "needs the stub upstream's control API (E2E_STUB_URL, set by scripts/run_e2e.sh in local mode)");
test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });

/** PRIM's way of writing a moment: Paris wall-clock time, "20261208T100000". */
function primStamp(ms: number): string {
  const parts = new Intl.DateTimeFormat("sv-SE", {
    timeZone: "Europe/Paris",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).format(ms);
  return parts.replace(/[-:]/g, "").replace(" ", "T");
}

function disruption(id: string, severity: string, begin: number, end: number, shortMessage: string) {
  return {
    id,
    applicationPeriods: [{ begin: primStamp(begin), end: primStamp(end) }],
    lastUpdate: primStamp(begin),
    cause: "TRAVAUX",
    severity,
    title: `Métro 1 : ${shortMessage}`,
    message: `<p>En raison de travaux, ${shortMessage.toLowerCase()}.</p><script>document.title = "injected"</script>`,
    shortMessage,
    impactedSections: [
      {
        lineId: "line:IDFM:C01371",
        from: { type: "stop_area", id: "stop_area:IDFM:71222", name: "Château de Vincennes" },
        to: { type: "stop_area", id: "stop_area:IDFM:71673", name: "Nation" },
      },
    ],
  };
}

test.afterAll(async ({ playwright }) => {
  const request = await playwright.request.newContext();
  await request.delete(`${stub}/__stub/disruptions`);
  await request.dispose();
});

test("metro 1's page shows its current and coming disruptions, never an ended one", async ({ page }) => {
  test.setTimeout(FEED_TIMEOUT + 60_000);
  const now = Date.now();
  const entries = [
    disruption("e2e-current", "BLOQUANTE", now - HOUR, now + 2 * HOUR, "Trafic interrompu"),
    disruption("e2e-coming", "PERTURBEE", now + 5 * HOUR, now + 6 * HOUR, "Trafic ralenti"),
    disruption("e2e-ended", "BLOQUANTE", now - 3 * HOUR, now - HOUR, "Gare fermée"),
  ];
  const feed = {
    disruptions: entries,
    lines: [
      {
        id: "line:IDFM:C01371",
        shortName: "1",
        mode: "Metro",
        impactedObjects: [
          { type: "line", id: "line:IDFM:C01371", name: "1", disruptionIds: entries.map((entry) => entry.id) },
        ],
      },
    ],
    lastUpdatedDate: new Date(now).toISOString(),
  };
  const posted = await page.request.post(`${stub}/__stub/disruptions`, { data: feed });
  expect(posted.ok(), await posted.text()).toBe(true);

  await page.goto("/lines/metro/1");
  const items = page.getByTestId("line-disruption");
  // The fleet reads the feed on its own schedule (PRIM_TRAFFIC_FEED_SECONDS); the page polls until it shows.
  await expect(items).toHaveCount(2, { timeout: FEED_TIMEOUT });

  const current = items.nth(0);
  await expect(current).toHaveAttribute("data-current", "true");
  await expect(current).toContainText(fr.disruptions.severityBlocking);
  await expect(current).toContainText("Trafic interrompu");
  await expect(current.getByTestId("disruption-section")).toHaveText("Entre Château de Vincennes et Nation");
  await expect(current.getByTestId("disruption-period")).toContainText("En cours, jusqu’au");
  await current.getByText(fr.disruptions.details).click();
  await expect(current.getByTestId("disruption-message")).toHaveText("En raison de travaux, trafic interrompu.");
  const coming = items.nth(1);
  await expect(coming).toHaveAttribute("data-current", "false");
  await expect(coming).toContainText(fr.disruptions.severityDisturbed);
  await expect(coming.getByTestId("disruption-period")).toContainText("À venir");
  await expect(page.getByTestId("line-disruptions")).not.toContainText("Gare fermée");
  // The upstream's HTML is shown as text, never run.
  expect(await page.title()).not.toBe("injected");
  // The line's status says it too.
  await expect(page.getByTestId("disruption-banner")).toContainText("Trafic interrompu");
});
