"use client";

import { useEffect, useState } from "react";

/** The current time, re-rendering every `intervalMs`: countdowns tick between two fetches. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(timer);
  }, [intervalMs]);
  return now;
}
