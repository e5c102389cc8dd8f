import { useTranslations } from "next-intl";

/** "On this page": links to a long page's sections, so a phone reaches each without scrolling through the rest. */
export function PageSections({ sections }: { sections: readonly { id: string; label: string }[] }) {
  const t = useTranslations("admin");
  return (
    <nav aria-label={t("sections")} data-testid="page-sections">
      <ul className="page-toc">
        {sections.map((section) => (
          <li key={section.id}>
            <a href={`#${section.id}`}>{section.label}</a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
