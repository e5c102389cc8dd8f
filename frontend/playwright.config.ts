/**
 * End-to-end specs against a running stack (dashboard + API + workers, fed by the stub upstream).
 * Uses the system's Chromium (no browser download): CHROMIUM_EXECUTABLE_PATH, default /usr/bin/chromium.
 *
 *   E2E_BASE_URL        the dashboard (default http://127.0.0.1:3000)
 *   E2E_ADMIN_PASSWORD  the dashboard's ADMIN_PASSWORD, when it has one
 *   E2E_ARTIFACTS_DIR   where page screenshots go (default ../artifacts/screenshots)
 */
import { resolve } from "node:path";

import { defineConfig } from "@playwright/test";

const baseURL = process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000";
export const ADMIN_STATE = "e2e/.auth/admin.json";

export default defineConfig({
  testDir: "./e2e",
  timeout: 90_000,
  expect: { timeout: 20_000 },
  // The specs share one running stack and change it (workers, scheduler): one at a time.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [["list"], ["html", { open: "never", outputFolder: "playwright-report" }]],
  outputDir: "test-results",
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_EXECUTABLE_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
      ],
    },
  },
  metadata: { artifactsDir: resolve(process.env.E2E_ARTIFACTS_DIR ?? "../artifacts/screenshots") },
  projects: [
    { name: "setup", testMatch: /admin\.setup\.ts/ },
    {
      name: "desktop",
      testIgnore: /admin\.setup\.ts/,
      dependencies: ["setup"],
      use: { viewport: { width: 1280, height: 800 }, storageState: ADMIN_STATE },
    },
    {
      name: "phone",
      testMatch: /(screenshots|layout|a11y)\.spec\.ts/,
      dependencies: ["setup"],
      use: {
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 2,
        isMobile: true,
        hasTouch: true,
        storageState: ADMIN_STATE,
      },
    },
  ],
});
