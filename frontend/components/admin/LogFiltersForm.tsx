"use client";

import { useTranslations } from "next-intl";
import { useEffect, useState } from "react";

import { useDebouncedValue } from "@/lib/hooks/useDebouncedValue";
import {
  EMPTY_LOG_FILTERS,
  KNOWN_SERVICES,
  LOG_LEVELS,
  instantToLocalInput,
  localInputToInstant,
  type LogFilters,
  type LogLevel,
} from "@/lib/logs/filters";

const QUICK_RANGES = [
  { label: "15 min", minutes: 15 },
  { label: "1 h", minutes: 60 },
  { label: "24 h", minutes: 24 * 60 },
];

interface LogFiltersFormProps {
  filters: LogFilters;
  onChange: (filters: LogFilters) => void;
}

const TYPING_DEBOUNCE_MS = 350;

/** The observatory's filters; typed fields (service, text) are debounced, the others apply at once. */
export function LogFiltersForm({ filters, onChange }: LogFiltersFormProps) {
  const t = useTranslations("admin.logs.filters");
  const [service, setService] = useState(filters.service);
  const [search, setSearch] = useState(filters.search);
  const typedService = useDebouncedValue(service.trim(), TYPING_DEBOUNCE_MS);
  const typedSearch = useDebouncedValue(search, TYPING_DEBOUNCE_MS);

  // The URL is the source of truth: follow it when it changes (back button, shared link, "Clear all").
  useEffect(() => setService(filters.service), [filters.service]);
  useEffect(() => setSearch(filters.search), [filters.search]);
  useEffect(() => {
    if (typedService !== filters.service || typedSearch !== filters.search) {
      onChange({ ...filters, service: typedService, search: typedSearch });
    }
    // Only the debounced typing triggers this; the other filters are applied by their own controls.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [typedService, typedSearch]);

  const set = <K extends keyof LogFilters>(key: K, value: LogFilters[K]) => onChange({ ...filters, [key]: value });

  return (
    <form className="card log-filters" role="search" aria-label={t("label")} onSubmit={(e) => e.preventDefault()}>
      <div className="field">
        <label htmlFor="log-service">{t("service")}</label>
        <input
          id="log-service"
          list="log-services"
          value={service}
          placeholder={t("any")}
          onChange={(event) => setService(event.target.value)}
          data-testid="log-filter-service"
        />
        <datalist id="log-services">
          {KNOWN_SERVICES.map((service) => (
            <option key={service} value={service} />
          ))}
        </datalist>
      </div>
      <div className="field">
        <label htmlFor="log-level">{t("level")}</label>
        <select
          id="log-level"
          value={filters.level}
          onChange={(event) => set("level", event.target.value as LogLevel | "")}
          data-testid="log-filter-level"
        >
          <option value="">{t("any")}</option>
          {LOG_LEVELS.map((level) => (
            <option key={level} value={level}>
              {level}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="log-min-level">{t("atLeast")}</label>
        <select
          id="log-min-level"
          value={filters.minLevel}
          onChange={(event) => set("minLevel", event.target.value as LogLevel | "")}
          data-testid="log-filter-min-level"
        >
          <option value="">{t("any")}</option>
          {LOG_LEVELS.map((level) => (
            <option key={level} value={level}>
              {level}
            </option>
          ))}
        </select>
      </div>
      <div className="field field-wide">
        <label htmlFor="log-search">{t("text")}</label>
        <input
          id="log-search"
          type="search"
          value={search}
          placeholder={t("textPlaceholder")}
          onChange={(event) => setSearch(event.target.value)}
          data-testid="log-filter-search"
        />
      </div>
      <div className="field">
        <label htmlFor="log-since">{t("since")}</label>
        <input
          id="log-since"
          type="datetime-local"
          value={instantToLocalInput(filters.since)}
          onChange={(event) => set("since", localInputToInstant(event.target.value))}
          data-testid="log-filter-since"
        />
      </div>
      <div className="field">
        <label htmlFor="log-until">{t("until")}</label>
        <input
          id="log-until"
          type="datetime-local"
          value={instantToLocalInput(filters.until)}
          onChange={(event) => set("until", localInputToInstant(event.target.value))}
          data-testid="log-filter-until"
        />
      </div>
      <div className="field field-actions">
        <span className="field-label" id="quick-range-label">
          {t("last")}
        </span>
        <div className="button-row" role="group" aria-labelledby="quick-range-label">
          {QUICK_RANGES.map((range) => (
            <button
              key={range.label}
              type="button"
              className="button button-small"
              onClick={() =>
                onChange({ ...filters, since: new Date(Date.now() - range.minutes * 60_000).toISOString(), until: "" })
              }
            >
              {range.label}
            </button>
          ))}
          <button type="button" className="button button-small button-quiet" onClick={() => onChange(EMPTY_LOG_FILTERS)}>
            {t("clear")}
          </button>
        </div>
      </div>
    </form>
  );
}
