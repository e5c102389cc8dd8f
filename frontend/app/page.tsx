import { HomeDashboard } from "@/components/home/HomeDashboard";

export default function HomePage() {
  return <HomeDashboard />;
}
