"use client";

import { useLocale, useTranslations } from "next-intl";

import { chooseLocale } from "@/i18n/actions";
import { LOCALES, LOCALE_NAMES } from "@/i18n/locales";

/**
 * "FR | EN" in the header: a form posting to a server action, so it works before the page's script has loaded.
 * Each button reads "FR – Français", "EN – English": the visible code, then the language named in itself.
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
          aria-pressed={locale === current}
          className="language-option"
        >
          {locale.toUpperCase()}
          <span className="visually-hidden"> – {LOCALE_NAMES[locale]}</span>
        </button>
      ))}
    </form>
  );
}
