// An adviser changes one cell of the Gerica profile matrix and sees that profile's Sum and Average
// change on the page (and nothing else change).
import test from 'node:test';
import assert from 'node:assert/strict';
import { useHarness } from '../harness.mjs';

const H = useHarness(test);

// The matrix as the page shows it: profile columns, the cells, and the Sum and Average rows.
const readMatrix = (page) => page.evaluate(() => {
  const form = document.querySelector('form[action$="/matrix"]');
  const profiles = [...form.querySelectorAll('thead th[id^="p-"]')].map((th) => ({
    id: th.id.slice(2), name: th.textContent.trim(),
  }));
  const rows = [...form.querySelectorAll('tbody tr')].map((tr) =>
    [...tr.querySelectorAll('input[type="number"]')].map((i) => ({ name: i.name, value: i.value })));
  const sum = {}, avg = {};
  for (const p of profiles) {
    sum[p.id] = document.getElementById(`sum-${p.id}`).textContent.trim();
    avg[p.id] = document.getElementById(`avg-${p.id}`).textContent.trim();
  }
  return { profiles, rows, sum, avg };
});

const avgText = (sum, n) => (sum / n).toFixed(2).replace('.', ',');   // bokmål: "1,08"

test('adviser: a changed cell of the Gerica matrix changes Sum and Average of its profile', async () => {
  const h = H.h;
  const systems = (await h.api('GET', '/systems', null, await h.token('radgiver'))).json.items;
  const gerica = systems.find((s) => s.name === 'Gerica');
  assert.ok(gerica, 'no Gerica in the demo');

  const page = await h.newPage();
  await h.login(page, 'radgiver');
  const r = await page.goto(h.url(`/systems/${gerica.id}/matrix`));
  assert.equal(r.status(), 200);
  const before = await readMatrix(page);
  const n = before.rows.length;
  assert.ok(before.profiles.length > 0 && n > 0, 'an empty matrix');

  // Sum and Average agree with the cells before anything changes
  before.profiles.forEach((p, k) => {
    const s = before.rows.reduce((a, row) => a + Number(row[k].value), 0);
    assert.equal(before.sum[p.id], String(s), `Sum of ${p.name}`);
    assert.equal(before.avg[p.id], avgText(s, n), `Average of ${p.name}`);
  });

  // the first profile's first cell below 4 goes one level up
  const k = 0, p = before.profiles[k];
  const row = before.rows.findIndex((cells) => Number(cells[k].value) < 4);
  assert.ok(row >= 0, `${p.name} demands 4 everywhere`);
  const cell = before.rows[row][k];
  const to = Number(cell.value) + 1;
  const input = page.locator(`input[name="${cell.name}"]`);
  // the cell has a label that names the profile
  assert.match(await page.locator(`label[for="${await input.getAttribute('id')}"]`).textContent(), new RegExp(p.name));
  await input.fill(String(to));
  await Promise.all([
    page.waitForURL(/done=matrix_saved/),
    page.locator('form[action$="/matrix"] button[type="submit"]').click(),
  ]);
  await assert.doesNotReject(page.locator('.flash[role="status"]').waitFor(), 'no saved message');

  const after = await readMatrix(page);
  const expectSum = Number(before.sum[p.id]) + 1;
  assert.equal(after.rows[row][k].value, String(to), 'the cell keeps its new level');
  assert.equal(after.sum[p.id], String(expectSum), `Sum of ${p.name}: ${before.sum[p.id]} + 1`);
  assert.equal(after.avg[p.id], avgText(expectSum, n), `Average of ${p.name}`);
  assert.notEqual(after.avg[p.id], before.avg[p.id]);
  for (const q of before.profiles.filter((x) => x.id !== p.id)) {
    assert.equal(after.sum[q.id], before.sum[q.id], `Sum of ${q.name} unchanged`);
    assert.equal(after.avg[q.id], before.avg[q.id], `Average of ${q.name} unchanged`);
  }
  // and the API agrees with the page
  const api = (await h.api('GET', `/profiles/${p.id}`, null, await h.token('radgiver'))).json;
  assert.equal(api.sum, expectSum);
});
