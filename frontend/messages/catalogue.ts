/**
 * The shape every language's catalogue must have: the English one's keys, each a string. `fr.ts` is declared
 * `satisfies Catalogue`, so a key missing (or left over) in French fails `tsc`; `en.ts` is the reference because it is
 * the one next-intl's types read (global.d.ts), and a key used in a component but missing from it fails `tsc` too.
 */
import type { en } from "./en";

type Shape<T> = { readonly [K in keyof T]: T[K] extends string ? string : Shape<T[K]> };

export type Catalogue = Shape<typeof en>;
