"use server";

import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import { getTranslations } from "next-intl/server";

import { LOGIN_PATH, safeNextPath } from "@/lib/admin-paths";
import { readServerSettings } from "@/lib/server/env";
import { clientAddress, loginThrottle } from "@/lib/server/login-throttle";
import { SESSION_COOKIE, SESSION_TTL_SECONDS, adminAccessMode, passwordMatches, signSession } from "@/lib/server/session";

export interface LoginState {
  error: string | null;
}

/** HTTPS when the request came over it (directly or through a proxy): only then is the cookie marked Secure. */
async function overHttps(): Promise<boolean> {
  const h = await headers();
  return (h.get("x-forwarded-proto") ?? "").split(",")[0]?.trim() === "https" || (h.get("origin") ?? "").startsWith("https:");
}

export async function login(_previous: LoginState, form: FormData): Promise<LoginState> {
  const settings = readServerSettings();
  const t = await getTranslations("operators");
  const mode = adminAccessMode(settings);
  if (mode !== "password" || !settings.adminPassword) return { error: t("loginLocked") };
  const client = clientAddress(await headers());
  const wait = loginThrottle.retryAfterSeconds(client);
  if (wait > 0) return { error: t("tooManyAttempts", { seconds: wait }) };

  const password = form.get("password");
  if (typeof password !== "string" || !(await passwordMatches(password, settings.adminPassword))) {
    loginThrottle.recordFailure(client);
    const next = loginThrottle.retryAfterSeconds(client);
    return { error: next > 0 ? t("wrongPasswordWait", { seconds: next }) : t("wrongPassword") };
  }
  loginThrottle.recordSuccess(client);
  const token = await signSession({ password: settings.adminPassword, secret: settings.adminSessionSecret });
  (await cookies()).set(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: "strict",
    secure: await overHttps(),
    path: "/",
    maxAge: SESSION_TTL_SECONDS,
  });
  const next = form.get("next");
  redirect(safeNextPath(typeof next === "string" ? next : null));
}

export async function logout(): Promise<void> {
  (await cookies()).delete(SESSION_COOKIE);
  redirect(LOGIN_PATH);
}
