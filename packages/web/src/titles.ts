/** The document title of each page ("Segments · Strata"), so tabs and history say where they lead. */
import { match } from './router.ts';

const SECTIONS: Record<string, string> = {
  segments: 'Segments', users: 'Users', missions: 'Missions', rewards: 'Bonus shop', experiences: 'Experiences', experiments: 'Experiments',
  webhooks: 'Webhooks', destinations: 'Destinations', import: 'Import', settings: 'Settings', audit: 'Audit log',
};

export function pageTitle(path: string): string {
  let m: Record<string, string> | null;
  const parts: string[] = [];
  if (match('/segments/new', path)) parts.push('New segment', 'Segments');
  else if (match('/segments/:id/edit', path)) parts.push('Edit segment', 'Segments');
  else if (match('/segments/:id', path)) parts.push('Segment', 'Segments');
  else if ((m = match('/users/:id', path))) parts.push(m.id!, 'Users');
  else {
    const section = path.split('?')[0]!.split('/')[1] ?? '';
    parts.push(section === '' ? 'Segments' : SECTIONS[section] ?? 'Not found');
  }
  return [...parts, 'Strata'].join(' · ');
}
