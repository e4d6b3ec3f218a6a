// Screenshots of evne's main pages on a fresh demo, for docs/screenshots/ and the README.
//
//   node tests/browser/screenshots.mjs [--out DIR] [--full]
//
// 1280x800 (and /me at 360 px wide), in Norwegian, each page as the role that uses it. --full
// takes the whole page instead of the first screenful (for looking at layout, not for docs).
// A page that is not there yet (404) is left out and named; the exit code is 1 if any was.
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { start, ROOT } from './harness.mjs';

const args = process.argv.slice(2);
const out = path.resolve(args.includes('--out') ? args[args.indexOf('--out') + 1] : path.join(ROOT, 'docs', 'screenshots'));
const fullPage = args.includes('--full');

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 360, height: 800 };

const h = await start();
let missing = 0;
try {
  await mkdir(out, { recursive: true });
  const admin = await h.token('admin');
  const systems = (await h.api('GET', '/systems', null, admin)).json.items;
  const gerica = systems.find((s) => s.name === 'Gerica');
  if (!gerica) throw new Error('no system named Gerica in the demo');

  const shots = [
    { file: 'login.png', path: '/login', login: null },
    { file: 'me.png', path: '/me', login: 'ansatt' },
    { file: 'me-assessment.png', path: '/me/assessment', login: 'ansatt' },
    { file: 'me-360.png', path: '/me', login: 'ansatt', viewport: PHONE },
    { file: 'team.png', path: '/team', login: 'leder' },
    { file: 'team-gaps.png', path: '/team/gaps', login: 'leder' },
    { file: 'systems-gerica-matrix.png', path: `/systems/${gerica.id}/matrix`, login: 'radgiver' },
    { file: 'reports-department.png', path: '/reports?by=department', login: 'radgiver' },
    { file: 'admin-users.png', path: '/admin/users', login: 'admin' },
  ];
  const pages = {};
  for (const s of shots) {
    const key = `${s.login}:${(s.viewport || DESKTOP).width}`;
    if (!pages[key]) {
      pages[key] = await h.newPage({ viewport: s.viewport || DESKTOP });
      if (s.login) await h.login(pages[key], s.login);
    }
    const page = pages[key];
    const r = await page.goto(h.url(s.path));
    const status = r ? r.status() : 0;
    if (status !== 200) {
      console.log(`left out ${s.file}: ${s.path} answered ${status}`);
      missing++;
      continue;
    }
    const file = path.join(out, s.file);
    await page.screenshot({ path: file, fullPage });
    console.log(`${path.relative(ROOT, file)}: ${s.path} as ${s.login || 'nobody'}, ${(s.viewport || DESKTOP).width} px wide`);
  }
} finally {
  const { code, log } = await h.stop();
  if (code !== 0) {
    console.error(`evne serve did not stop cleanly: ${code}\n${log}`);
    process.exitCode = 1;
  }
}
if (missing) process.exitCode = 1;
