// An employee logs in through the form, answers the self-assessment and sees the gap shrink.
import test from 'node:test';
import assert from 'node:assert/strict';
import { useHarness, myGaps } from '../harness.mjs';

const H = useHarness(test);

test('employee: raising levels in the self-assessment shrinks the gap sum on Min side', async () => {
  const h = H.h;
  const page = await h.newPage();
  await h.login(page, 'ansatt');
  assert.match(await page.locator('header .who').innerText(), /Per Hansen/);

  await page.goto(h.url('/me'));
  const before = await myGaps(page);
  assert.ok(before.length > 0, 'Min side shows no systems');
  for (const s of before) {
    // the summary line and the table agree before anything changes
    assert.equal(s.barSum, s.rows.reduce((a, r) => a + r.gap, 0), `gap sum of ${s.name}`);
  }
  // the first system with at least two open gaps
  const sys = before.find((s) => s.rows.filter((r) => r.gap > 0).length >= 2);
  assert.ok(sys, 'ansatt has no system with two open gaps in the demo');
  const raise = sys.rows.filter((r) => r.gap > 0).slice(0, 2);
  const closed = raise.reduce((a, r) => a + r.gap, 0);

  await page.goto(h.url('/me/assessment'));
  const section = page.locator('form[action="/me/assessment"] section').filter({
    has: page.locator(`h2:text-is("${sys.name}")`),
  });
  await assert.doesNotReject(section.waitFor(), `no section for ${sys.name} in the self-assessment`);
  for (const r of raise) {
    const q = section.locator('fieldset').filter({ hasText: r.text });
    assert.equal(await q.count(), 1, `one question for "${r.text}"`);
    const current = q.locator('input[type="radio"]:checked');
    if (r.actual === null) assert.equal(await current.count(), 0, 'unassessed: nothing preselected');
    else assert.equal(await current.getAttribute('value'), String(r.actual), 'current level preselected');
    assert.ok(r.required > (r.actual ?? 0));
    await q.locator(`input[type="radio"][value="${r.required}"]`).check();
  }
  await Promise.all([
    page.waitForURL(/\/me\/assessment\?saved=1$/),
    page.locator('form[action="/me/assessment"] button[type="submit"]').click(),
  ]);
  await assert.doesNotReject(page.locator('.flash[role="status"]').waitFor(), 'no saved message');
  // the form now shows the new levels as the current ones
  for (const r of raise) {
    const q = section.locator('fieldset').filter({ hasText: r.text });
    assert.equal(await q.locator('input[type="radio"]:checked').getAttribute('value'), String(r.required));
  }

  await page.goto(h.url('/me'));
  const after = await myGaps(page);
  const now = after.find((s) => s.id === sys.id);
  assert.ok(now, `${sys.name} is gone from Min side`);
  assert.equal(now.barSum, sys.barSum - closed, `gap sum of ${sys.name}: ${sys.barSum} - ${closed}`);
  assert.ok(now.barSum < sys.barSum);
  for (const r of raise) {
    const row = now.rows.find((x) => x.text === r.text);
    assert.equal(row.actual, r.required);
    assert.equal(row.gap, 0);
  }
  // the other systems are untouched
  for (const s of before.filter((x) => x.id !== sys.id)) {
    assert.equal(after.find((x) => x.id === s.id)?.barSum, s.barSum, `gap sum of ${s.name}`);
  }
});
