"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

const LINKS = [
  { href: "/", label: "Lines", active: (path: string) => !path.startsWith("/admin") },
  { href: "/admin", label: "Operators", active: (path: string) => path.startsWith("/admin") },
];

export function SiteHeader() {
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
      <nav aria-label="Main">
        <ul className="site-nav">
          {LINKS.map((link) => (
            <li key={link.href}>
              <Link href={link.href} aria-current={link.active(pathname) ? "page" : undefined}>
                {link.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
    </header>
  );
}
