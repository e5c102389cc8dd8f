/**
 * The dashboard's languages: French first (riders are in Paris), English second. The rider's choice is kept per
 * browser in a cookie; without one, French. No language in the URL: a shared link opens in the reader's own language.
 */
export const LOCALES = ["fr", "en"] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = "fr";
/** next-intl's own cookie name, so its tooling and ours agree. */
export const LOCALE_COOKIE = "NEXT_LOCALE";
/** A year: the choice outlives the session. */
export const LOCALE_COOKIE_MAX_AGE_SECONDS = 365 * 24 * 3600;

/** Each language's name in itself, as the switch shows it. */
export const LOCALE_NAMES: Record<Locale, string> = { fr: "Français", en: "English" };

export function toLocale(value: string | null | undefined): Locale {
  return LOCALES.find((locale) => locale === value) ?? DEFAULT_LOCALE;
}
