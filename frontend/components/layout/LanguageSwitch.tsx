"use client";

import { useLocale, useTranslations } from "next-intl";

import { chooseLocale } from "@/i18n/actions";
import { LOCALES, LOCALE_NAMES } from "@/i18n/locales";

/**
 * "FR | EN" in the header: a form posting to a server action, so it works before the page's script has loaded.
 * Each button names its language in that language ("Français", "English") for screen readers.
 */
export function LanguageSwitch() {
  const t = useTranslations("layout");
  const current = useLocale();
  return (
    <form action={chooseLocale} className="language-switch" aria-label={t("language")} data-testid="language-switch">
      {LOCALES.map((locale) => (
        <button
          key={locale}
          type="submit"
          name="locale"
          value={locale}
          lang={locale}
          aria-label={LOCALE_NAMES[locale]}
          aria-pressed={locale === current}
          className="language-option"
        >
          {locale.toUpperCase()}
        </button>
      ))}
    </form>
  );
}
