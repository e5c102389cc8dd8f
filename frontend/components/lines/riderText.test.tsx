import { NextIntlClientProvider } from "next-intl";
import { createElement, type ReactElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";

import { CATALOGUES } from "@/i18n/catalogues";
import type { Locale } from "@/i18n/locales";
import type { Freshness, TrafficInfo } from "@/lib/api/types";

import { DisruptionBanner } from "./DisruptionBanner";
import { LineDataBadge } from "./LineDataBadge";

function render(element: ReactElement, locale: Locale = "en"): string {
  return renderToStaticMarkup(
    <NextIntlClientProvider locale={locale} messages={CATALOGUES[locale]} timeZone="Europe/Paris">
      {element}
    </NextIntlClientProvider>,
  );
}

const NOW = Date.parse("2025-11-29T10:00:00Z");
const ago = (seconds: number) => new Date(NOW - seconds * 1000).toISOString();

function freshness(overrides: Partial<Freshness> = {}): Freshness {
  return {
    status: "ok",
    reason: null,
    source: "prim",
    fetched_at: ago(20),
    last_success_at: ago(20),
    age_seconds: 20,
    stale: false,
    stale_after_seconds: 90,
    stops_total: 25,
    stops_failed: 0,
    stops_stale: 0,
    ...overrides,
  };
}

describe("rider components", () => {
  it("the disruption banner gives the operator's message and time, not the source's name", () => {
    const traffic: TrafficInfo = {
      level: "disrupted",
      message: "Trafic perturbé entre Nation et Vincennes.",
      source: "prim",
      updated_at: "2025-11-29T09:05:00Z",
    };
    const html = render(createElement(DisruptionBanner, { traffic, lineName: "Métro 1" }));
    expect(html).toContain("Trafic perturbé entre Nation et Vincennes.");
    expect(html).toContain("Updated 10:05");
    expect(html).not.toMatch(/prim/i);
    const french = render(createElement(DisruptionBanner, { traffic, lineName: "Métro 1" }), "fr");
    expect(french).toContain("Métro 1 : perturbée");
    expect(french).toContain("Trafic perturbé entre Nation et Vincennes.");
    expect(french).toContain("Mis à jour à 10:05");
  });

  it("a line's data badge says failed, stale with its age, or nothing when live", () => {
    const badge = (f: Freshness) => render(createElement(LineDataBadge, { freshness: f, now: NOW }));
    expect(badge(freshness())).toBe("");
    expect(badge(freshness({ status: "failed", reason: "unreachable" }))).toContain("No live data");
    expect(badge(freshness({ status: "stale", stale: true, last_success_at: ago(540) }))).toContain("Stale · 9 min");
    expect(badge(freshness({ status: "partial", stops_failed: 3 }))).toContain("Some stops stale");
    expect(badge(freshness({ status: "never", last_success_at: null }))).toContain("Not fetched yet");
  });
});
