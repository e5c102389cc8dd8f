"use server";

/** The language switch's server action: keeps the rider's choice in a cookie; Next.js then re-renders the page. */
import { cookies } from "next/headers";

import { LOCALE_COOKIE, LOCALE_COOKIE_MAX_AGE_SECONDS, toLocale } from "./locales";

export async function chooseLocale(form: FormData): Promise<void> {
  const value = form.get("locale");
  (await cookies()).set(LOCALE_COOKIE, toLocale(typeof value === "string" ? value : null), {
    path: "/",
    maxAge: LOCALE_COOKIE_MAX_AGE_SECONDS,
    sameSite: "lax",
  });
}
