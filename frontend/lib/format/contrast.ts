/**
 * Colours of line badges: the official colour from the API with a text colour that stays readable
 * (WCAG contrast ≥ 4.5), and a ring when the badge itself would melt into the page background
 * (contrast < 3 against white in light mode, e.g. yellow metro 1; against near-black in dark mode).
 */

export const FALLBACK_LINE_COLOUR = "#6b7280";
export const LIGHT_PAGE_BACKGROUND = "#ffffff";
export const DARK_PAGE_BACKGROUND = "#111318";
const BLACK = "#000000";
const WHITE = "#ffffff";

/** "#ffcd00" from "FFCD00", "#FFCD00" or "#fc0"; null for anything else. */
export function normaliseHex(value: string | null | undefined): string | null {
  if (!value) return null;
  const hex = value.trim().replace(/^#/, "").toLowerCase();
  if (/^[0-9a-f]{6}$/.test(hex)) return `#${hex}`;
  if (/^[0-9a-f]{3}$/.test(hex)) return `#${[...hex].map((c) => c + c).join("")}`;
  return null;
}

function channel(value: number): number {
  const c = value / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** WCAG relative luminance of a "#rrggbb" colour. */
export function relativeLuminance(hex: string): number {
  const normal = normaliseHex(hex) ?? FALLBACK_LINE_COLOUR;
  const r = Number.parseInt(normal.slice(1, 3), 16);
  const g = Number.parseInt(normal.slice(3, 5), 16);
  const b = Number.parseInt(normal.slice(5, 7), 16);
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

/** WCAG contrast ratio between two colours, from 1 to 21. */
export function contrastRatio(a: string, b: string): number {
  const la = relativeLuminance(a);
  const lb = relativeLuminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** The preferred text colour when it reads well on `background`, else black or white, whichever reads better. */
export function readableTextColour(background: string, preferred?: string | null, minimum = 4.5): string {
  const bg = normaliseHex(background) ?? FALLBACK_LINE_COLOUR;
  const wanted = normaliseHex(preferred);
  if (wanted && contrastRatio(bg, wanted) >= minimum) return wanted;
  return contrastRatio(bg, BLACK) >= contrastRatio(bg, WHITE) ? BLACK : WHITE;
}

export interface BadgeColours {
  background: string;
  text: string;
  /** Ring around the badge on a light page, "transparent" when the badge stands out by itself. */
  ringLight: string;
  /** Ring around the badge on a dark page. */
  ringDark: string;
}

export function badgeColours(colour: string | null | undefined, textColour?: string | null): BadgeColours {
  const background = normaliseHex(colour) ?? FALLBACK_LINE_COLOUR;
  return {
    background,
    text: readableTextColour(background, textColour),
    ringLight: contrastRatio(background, LIGHT_PAGE_BACKGROUND) < 3 ? "#4b5563" : "transparent",
    ringDark: contrastRatio(background, DARK_PAGE_BACKGROUND) < 3 ? "#d1d5db" : "transparent",
  };
}
