// At 360 px wide (a phone), the employee's pages fit: the body never scrolls sideways (wide
// tables scroll inside their own .table-wrap instead).
import test from 'node:test';
import assert from 'node:assert/strict';
import { useHarness } from '../harness.mjs';

const H = useHarness(test, { viewport: { width: 360, height: 740 } });
const SLACK = 2; // px

const widths = (page) => page.evaluate(() => ({
  scroll: document.documentElement.scrollWidth,
  client: document.documentElement.clientWidth,
  // the elements that stick out to the right, to name them when the test fails
  wide: [...document.body.querySelectorAll('*')]
    .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 2)
    .filter((e) => !e.closest('.table-wrap, .scroll, .visually-hidden'))
    .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}${e.className ? '.' + e.className : ''}`),
}));

for (const [path, login] of [['/login', null], ['/me', 'ansatt'], ['/me/assessment', 'ansatt']]) {
  test(`360 px: ${path} has no horizontal scroll of the body`, async () => {
    const h = H.h;
    const page = await h.newPage();
    if (login) await h.login(page, login);
    const r = await page.goto(h.url(path));
    assert.equal(r.status(), 200);
    assert.equal(await page.evaluate(() => window.innerWidth), 360);
    const w = await widths(page);
    assert.ok(w.scroll <= 360 + SLACK, `${path}: scrollWidth ${w.scroll} > 360 (sticking out: ${w.wide.join(', ')})`);
  });
}
