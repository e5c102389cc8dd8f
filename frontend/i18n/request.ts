/** next-intl's per-request configuration: the language from the rider's cookie (French by default), Paris time. */
import { cookies } from "next/headers";
import { getRequestConfig } from "next-intl/server";

import { CATALOGUES } from "./catalogues";
import { LOCALE_COOKIE, toLocale } from "./locales";

export default getRequestConfig(async () => {
  const locale = toLocale((await cookies()).get(LOCALE_COOKIE)?.value);
  return { locale, messages: CATALOGUES[locale], timeZone: "Europe/Paris" };
});
