// The body never scrolls sideways: not at 360 px wide (a phone), and not at 1280 px (a PC). Wide
// tables must scroll inside their own .table-wrap instead.
//
// KNOWN lists what fails today for a reason outside these tests; such a test runs and is reported
// as TODO (it does not fail the run) until the entry is removed. Remove an entry once it is fixed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { useHarness } from '../harness.mjs';

const H = useHarness(test);
const SLACK = 2; // px

const KNOWN = {};

const PAGES = [
  ['/login', null], ['/me', 'ansatt'], ['/me/assessment', 'ansatt'], ['/team', 'leder'],
  ['/team/gaps', 'leder'], ['/systems', 'radgiver'], ['/systems/{gerica}/matrix', 'radgiver'],
  ['/reports?by=department', 'radgiver'], ['/admin/users', 'admin'], ['/admin/departments', 'admin'],
];

const measure = (page) => page.evaluate(() => {
  const W = document.documentElement.clientWidth;
  const out = (e) => e.getBoundingClientRect().right > W + 2;
  return {
    scroll: document.documentElement.scrollWidth,
    // the outermost elements that stick out, and absolutely placed ones, to name them on failure
    wide: [...document.body.querySelectorAll('*')]
      .filter((e) => out(e) && (!out(e.parentElement) || getComputedStyle(e).position === 'absolute'))
      .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}${e.className ? '.' + String(e.className).trim().replace(/\s+/g, '.') : ''} in ${e.parentElement.tagName.toLowerCase()}`),
  };
});

let gerica;
for (const width of [360, 1280]) {
  for (const [path, login] of PAGES) {
    const todo = KNOWN[`${path}@${width}`] || KNOWN[path];
    test(`${width} px: ${path} has no horizontal scroll of the body`, { todo }, async () => {
      const h = H.h;
      if (!gerica) {
        const items = (await h.api('GET', '/systems', null, await h.token('radgiver'))).json.items;
        gerica = items.find((s) => s.name === 'Gerica').id;
      }
      const page = await h.newPage({ viewport: { width, height: 800 } });
      if (login) await h.login(page, login);
      const r = await page.goto(h.url(path.replace('{gerica}', gerica)));
      assert.equal(r.status(), 200);
      assert.equal(await page.evaluate(() => window.innerWidth), width);
      const m = await measure(page);
      assert.ok(m.scroll <= width + SLACK, `scrollWidth ${m.scroll} > ${width} (sticking out: ${m.wide.join(', ')})`);
      await page.context().close();
    });
  }
}
