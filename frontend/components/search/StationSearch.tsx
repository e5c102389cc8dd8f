"use client";

import { useRouter } from "next/navigation";
import { useTranslations } from "next-intl";
import { useId, useState, type KeyboardEvent } from "react";

import { LineBadge } from "@/components/lines/LineBadge";
import { errorMessage } from "@/lib/api/errors";
import { useStationSearch } from "@/lib/api/queries";
import type { StationMatch } from "@/lib/api/types";
import { useDebouncedValue } from "@/lib/hooks/useDebouncedValue";

const DEBOUNCE_MS = 250;

function stationHref(station: StationMatch): string {
  return `/stations/${encodeURIComponent(station.station_id)}`;
}

/**
 * Station search as a WAI-ARIA combobox (list autocomplete): type, move with the arrow keys, Enter opens
 * the station, Escape closes the list. The API ignores accents and case ("chatelet" finds "Châtelet").
 */
export function StationSearch() {
  const t = useTranslations("search");
  const router = useRouter();
  const id = useId();
  const listId = `${id}-list`;
  const [text, setText] = useState("");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const debounced = useDebouncedValue(text, DEBOUNCE_MS);
  const query = debounced.trim();
  const search = useStationSearch(query);
  const results = query.length >= 2 && text.trim().length >= 2 ? (search.data ?? []) : [];
  const expanded = open && results.length > 0;

  function choose(station: StationMatch | undefined) {
    if (!station) return;
    setOpen(false);
    router.push(stationHref(station));
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setOpen(true);
      setActive((index) => (results.length ? (index + 1) % results.length : -1));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setOpen(true);
      setActive((index) => (results.length ? (index <= 0 ? results.length - 1 : index - 1) : -1));
    } else if (event.key === "Enter") {
      if (expanded && active >= 0) {
        event.preventDefault();
        choose(results[active]);
      } else if (results.length === 1) {
        event.preventDefault();
        choose(results[0]);
      }
    } else if (event.key === "Escape") {
      if (open) {
        event.preventDefault();
        setOpen(false);
        setActive(-1);
      } else {
        setText("");
      }
    }
  }

  const status =
    query.length < 2
      ? ""
      : search.isError
        ? t("failed", { error: errorMessage(search.error) })
        : search.isFetching && !search.data
          ? t("searching")
          : t("found", { count: results.length });

  return (
    <div className="station-search">
      <label htmlFor={`${id}-input`} className="station-search-label">
        {t("label")}
      </label>
      <input
        id={`${id}-input`}
        type="search"
        role="combobox"
        autoComplete="off"
        spellCheck={false}
        placeholder={t("placeholder")}
        aria-autocomplete="list"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-activedescendant={expanded && active >= 0 ? `${id}-option-${active}` : undefined}
        value={text}
        onChange={(event) => {
          setText(event.target.value);
          setOpen(true);
          setActive(-1);
        }}
        onKeyDown={onKeyDown}
        onFocus={() => setOpen(true)}
        onBlur={() => setOpen(false)}
        data-testid="station-search"
      />
      <ul id={listId} role="listbox" aria-label={t("options")} className="station-search-list" hidden={!expanded}>
        {results.map((station, index) => (
          <li
            key={station.station_id}
            id={`${id}-option-${index}`}
            role="option"
            aria-selected={index === active}
            className="station-search-option"
            // mousedown, not click: it fires before the input's blur closes the list.
            onMouseDown={(event) => {
              event.preventDefault();
              choose(station);
            }}
            onMouseMove={() => setActive(index)}
          >
            <span className="station-search-name">
              {station.name}
              {station.town ? <span className="muted"> · {station.town}</span> : null}
            </span>
            <span className="badge-row">
              {station.lines.slice(0, 8).map((line) => (
                <LineBadge key={line.id} line={line} size="sm" />
              ))}
            </span>
          </li>
        ))}
      </ul>
      <p className="visually-hidden" aria-live="polite">
        {status}
      </p>
      {query.length >= 2 && !search.isFetching && search.isSuccess && results.length === 0 ? (
        <p className="muted station-search-empty">{t("noMatch", { query })}</p>
      ) : null}
    </div>
  );
}
