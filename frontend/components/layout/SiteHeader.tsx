"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { useTranslations } from "next-intl";

import { LanguageSwitch } from "./LanguageSwitch";

const LINKS = [
  { href: "/", label: "lines", active: (path: string) => !path.startsWith("/admin") },
  { href: "/admin", label: "operators", active: (path: string) => path.startsWith("/admin") },
] as const;

export function SiteHeader() {
  const t = useTranslations("layout");
  const pathname = usePathname() ?? "/";
  return (
    <header className="site-header">
      <Link href="/" className="brand">
        <span className="brand-mark" aria-hidden="true">
          M
        </span>
        <span>
          RATP Live<span className="brand-extra"> Tracker</span>
        </span>
      </Link>
      <nav aria-label={t("mainNav")}>
        <ul className="site-nav">
          {LINKS.map((link) => (
            <li key={link.href}>
              <Link href={link.href} aria-current={link.active(pathname) ? "page" : undefined}>
                {t(link.label)}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <LanguageSwitch />
    </header>
  );
}
