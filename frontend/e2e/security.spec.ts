/**
 * The dashboard under its own Content Security Policy: every page carries the policy and the other security
 * headers, and the browser blocks nothing while the rider and operator pages load, refresh and stream.
 */
import { expect, test, type Page } from "@playwright/test";

const PAGES = ["/", "/lines/metro/1", "/admin", "/admin/orchestrator", "/admin/logs"];

/** CSP violations the browser reports on the page (as events and as console errors). */
async function watchViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`Content Security Policy violation: ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  return violations;
}

test("every page carries the security headers and runs without a CSP violation", async ({ page }) => {
  const violations = await watchViolations(page);
  for (const path of PAGES) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBeLessThan(400);
    const headers = response!.headers();
    expect(headers["content-security-policy"], path).toContain("frame-ancestors 'none'");
    expect(headers["content-security-policy"], path).toContain("default-src 'self'");
    expect(headers["x-content-type-options"], path).toBe("nosniff");
    expect(headers["x-frame-options"], path).toBe("DENY");
    await page.waitForLoadState("networkidle").catch(() => undefined); // the log tail never goes idle
  }
  // The pages did their work under the policy: React hydrated and the data arrived through the proxy.
  await page.goto("/lines/metro/1");
  await expect.poll(() => page.getByTestId("countdown").count(), { timeout: 45_000 }).toBeGreaterThan(0);
  await page.goto("/admin/orchestrator");
  await expect.poll(() => page.getByTestId("worker-row").count(), { timeout: 45_000 }).toBeGreaterThan(0);
  await page.goto("/admin/logs");
  await expect.poll(() => page.getByTestId("log-row").count(), { timeout: 45_000 }).toBeGreaterThan(0);
  expect(violations).toEqual([]);
});
