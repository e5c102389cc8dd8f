/** The operator side is behind ADMIN_PASSWORD: pages redirect to the login page, the system proxy answers 401. */
import { expect, test } from "@playwright/test";

test.use({ storageState: { cookies: [], origins: [] } });

test("without a session, admin pages redirect to the login page and the system proxy refuses", async ({ page, request }) => {
  await page.goto("/admin/logs?level=ERROR");
  await expect(page).toHaveURL(/\/admin\/login\?next=%2Fadmin%2Flogs%3Flevel%3DERROR$/);

  const response = await request.get("/api/backend/api/system/workers");
  expect(response.status()).toBe(401);
  expect(await response.json()).toMatchObject({ detail: "admin_session_required" });
  expect((await request.get("/api/backend/api/meta")).status()).toBe(200);
});

test("a wrong password is refused; the right one leads back to the page asked for; signing out ends it", async ({
  page,
  context,
}) => {
  await page.goto("/admin/logs?level=ERROR");
  await page.getByLabel("Mot de passe administrateur").fill("not the password");
  await page.getByRole("button", { name: "Se connecter" }).click();
  await expect(page.locator("#login-error")).toHaveText("Mot de passe incorrect.");

  await page.getByLabel("Mot de passe administrateur").fill(process.env.E2E_ADMIN_PASSWORD as string);
  await page.getByRole("button", { name: "Se connecter" }).click();
  await expect(page).toHaveURL(/\/admin\/logs\?level=ERROR$/);
  await expect(page.getByTestId("log-filter-level")).toHaveValue("ERROR");

  const cookie = (await context.cookies()).find((c) => c.name === "ratp_admin_session");
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict" });

  await page.getByRole("button", { name: "Se déconnecter" }).click();
  await expect(page).toHaveURL(/\/admin\/login/);
  await page.goto("/admin/orchestrator");
  await expect(page).toHaveURL(/\/admin\/login/);
});
