/** Signs in to the operator pages once (E2E_ADMIN_PASSWORD) and keeps the session for the other specs. */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

import { expect, test as setup } from "@playwright/test";

import { ADMIN_STATE } from "../playwright.config";

setup("sign in as operator", async ({ page }) => {
  mkdirSync(dirname(ADMIN_STATE), { recursive: true });
  // The admin pages never open without a password (serve.sh generates one in .env).
  const password = process.env.E2E_ADMIN_PASSWORD;
  if (!password) throw new Error("E2E_ADMIN_PASSWORD is not set: pass the dashboard's ADMIN_PASSWORD");
  await page.goto("/admin/login");
  await page.getByLabel("Mot de passe administrateur").fill(password);
  await page.getByRole("button", { name: "Se connecter" }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByTestId("admin-session")).toContainText("Connecté");
  await page.context().storageState({ path: ADMIN_STATE });
});
