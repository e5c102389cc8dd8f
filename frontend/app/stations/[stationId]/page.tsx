import type { Metadata } from "next";
import { getTranslations } from "next-intl/server";

import { StationBoardView } from "@/components/departures/StationBoardView";
import { decodeParam } from "@/lib/params";

interface StationPageProps {
  params: Promise<{ stationId: string }>;
}

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getTranslations("meta"))("stationBoard") };
}

export default async function StationPage({ params }: StationPageProps) {
  const { stationId } = await params;
  const id = decodeParam(stationId);
  return <StationBoardView key={id} stationId={id} />;
}
