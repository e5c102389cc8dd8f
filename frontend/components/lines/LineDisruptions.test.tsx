import { NextIntlClientProvider } from "next-intl";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";

import { CATALOGUES } from "@/i18n/catalogues";
import type { Locale } from "@/i18n/locales";
import type { LineDisruption } from "@/lib/api/types";

import { LineDisruptions } from "./LineDisruptions";

const NOW = Date.parse("2026-12-08T09:00:00Z"); // 10:00 in Paris

function render(disruptions: LineDisruption[], locale: Locale = "fr", now = NOW): string {
  return renderToStaticMarkup(
    <NextIntlClientProvider locale={locale} messages={CATALOGUES[locale]} timeZone="Europe/Paris">
      {createElement(LineDisruptions, { disruptions, now })}
    </NextIntlClientProvider>,
  );
}

function disruption(overrides: Partial<LineDisruption> = {}): LineDisruption {
  const period = { begin: "2026-12-08T07:00:00Z", end: "2026-12-08T17:00:00Z" };
  return {
    id: "2aecb88e",
    severity: "blocking",
    cause: "TRAVAUX",
    title: "Métro 1 : Travaux - Arrêt(s) non desservi(s)",
    short_message: "Arrêt(s) non desservi(s)",
    message: "En raison de travaux, l'arrêt <b>Nation</b> n'est pas desservi.",
    current: true,
    period,
    periods: [period],
    sections: [{ from_name: "Château de Vincennes", to_name: "Nation" }],
    updated_at: "2026-12-08T07:05:12Z",
    ...overrides,
  };
}

describe("a line's disruptions", () => {
  it("show the severity, the period in Paris time, the section and the message, French first", () => {
    const html = render([disruption()]);
    expect(html).toContain("Bloquante");
    expect(html).toContain("En cours, jusqu’au");
    expect(html).toContain("En cours, jusqu’au 08/12, 18:00"); // 17:00 UTC in Paris
    expect(html).toContain("Entre Château de Vincennes et Nation");
    expect(html).toContain("Arrêt(s) non desservi(s)");
    const english = render([disruption()], "en");
    expect(english).toContain("Blocking");
    expect(english).toContain("Between Château de Vincennes and Nation");
  });

  it("render the upstream's message as text, never as HTML", () => {
    const html = render([disruption({ message: '<img src=x onerror="alert(1)">Trafic' })]);
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;img");
  });

  it("leave out a disruption whose periods have ended, and say when one is still to come", () => {
    const ended = { begin: "2026-12-08T05:00:00Z", end: "2026-12-08T08:30:00Z" };
    const coming = { begin: "2026-12-08T20:00:00Z", end: "2026-12-08T22:00:00Z" };
    expect(render([disruption({ period: ended, periods: [ended] })])).toBe("");
    const html = render([disruption({ current: false, period: coming, periods: [ended, coming] })]);
    expect(html).toContain("À venir : du");
    expect(html).toContain('data-current="false"');
    // Seen again once the page's clock passes the end of the current period: gone.
    expect(render([disruption()], "fr", Date.parse("2026-12-08T17:00:01Z"))).toBe("");
  });
});
