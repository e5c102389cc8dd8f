/** next-intl's types read the English catalogue: a message key a component uses and the catalogue lacks fails `tsc`. */
import type { Locale } from "@/i18n/locales";
import type { en } from "@/messages/en";

declare module "next-intl" {
  interface AppConfig {
    Locale: Locale;
    Messages: typeof en;
  }
}
