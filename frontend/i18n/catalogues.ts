/**
 * Both languages' messages, for the server (i18n/request.ts) and tests. Kept apart from `locales.ts` so that client
 * components importing the list of languages do not bundle every message: a page receives its own language's
 * messages from the server.
 */
import type { Catalogue } from "@/messages/catalogue";
import { en } from "@/messages/en";
import { fr } from "@/messages/fr";

import type { Locale } from "./locales";

/**
 * next-intl's types read the English catalogue with its literal strings (so a message's ICU arguments are typed);
 * the French one has the same keys (checked by `satisfies Catalogue` in fr.ts), only other strings.
 */
export const CATALOGUES: Record<Locale, typeof en> = { fr: fr as Catalogue as typeof en, en };
