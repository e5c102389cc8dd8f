import type { MetadataRoute } from "next";

/**
 * The Web App Manifest (/manifest.webmanifest), so a rider can add the tracker to a phone's home screen and open it
 * full screen. French, like the dashboard's default; the icons are the square brand mark (maskable: the "M" sits
 * inside the safe zone).
 */
export default function manifest(): MetadataRoute.Manifest {
  return {
    name: "RATP Live Tracker",
    short_name: "RATP Live",
    description: "Les prochains passages en direct sur les lignes de métro, RER, tram et bus de Paris.",
    lang: "fr",
    start_url: "/",
    scope: "/",
    display: "standalone",
    orientation: "portrait",
    theme_color: "#003ca6",
    background_color: "#ffffff",
    icons: [
      { src: "/icons/icon-192.png", sizes: "192x192", type: "image/png", purpose: "any" },
      { src: "/icons/icon-512.png", sizes: "512x512", type: "image/png", purpose: "any" },
      { src: "/icons/icon-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
    ],
  };
}
