"use server";

import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";

import { LOGIN_PATH, safeNextPath } from "@/lib/admin-paths";
import { readServerSettings } from "@/lib/server/env";
import { ALL_CLIENTS, globalLoginThrottle, loginThrottle } from "@/lib/server/login-throttle";
import { SESSION_COOKIE, SESSION_TTL_SECONDS, adminAccessMode, passwordMatches, signSession } from "@/lib/server/session";

export interface LoginState {
  error: string | null;
}

async function clientKey(): Promise<string> {
  const h = await headers();
  return h.get("x-forwarded-for")?.split(",")[0]?.trim() || h.get("x-real-ip") || "unknown";
}

/** HTTPS when the request came over it (directly or through a proxy): only then is the cookie marked Secure. */
async function overHttps(): Promise<boolean> {
  const h = await headers();
  return (h.get("x-forwarded-proto") ?? "").split(",")[0]?.trim() === "https" || (h.get("origin") ?? "").startsWith("https:");
}

export async function login(_previous: LoginState, form: FormData): Promise<LoginState> {
  const settings = readServerSettings();
  const mode = adminAccessMode(settings);
  if (mode !== "password" || !settings.adminPassword) {
    return { error: mode === "locked" ? "Admin is locked: ADMIN_PASSWORD is not set." : "No password is needed." };
  }
  const client = await clientKey();
  const wait = Math.max(loginThrottle.retryAfterSeconds(client), globalLoginThrottle.retryAfterSeconds(ALL_CLIENTS));
  if (wait > 0) return { error: `Too many failed attempts; try again in ${Math.ceil(wait / 60)} min.` };

  const password = form.get("password");
  if (typeof password !== "string" || !(await passwordMatches(password, settings.adminPassword))) {
    loginThrottle.recordFailure(client);
    globalLoginThrottle.recordFailure(ALL_CLIENTS);
    return { error: "Wrong password." };
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
