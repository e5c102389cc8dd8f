import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";

import { DemoBanner } from "@/components/layout/DemoBanner";
import { SiteHeader } from "@/components/layout/SiteHeader";

import "./globals.css";
import { Providers } from "./providers";

export const metadata: Metadata = {
  title: { default: "RATP Live Tracker", template: "%s · RATP Live Tracker" },
  description: "Live next departures on Paris metro, RER, tram and bus lines.",
};

export const viewport: Viewport = {
  width: "device-width",
  initialScale: 1,
  themeColor: [
    { media: "(prefers-color-scheme: light)", color: "#ffffff" },
    { media: "(prefers-color-scheme: dark)", color: "#111318" },
  ],
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <Providers>
          <SiteHeader />
          <DemoBanner />
          <main id="main" className="page">
            {children}
          </main>
        </Providers>
      </body>
    </html>
  );
}
