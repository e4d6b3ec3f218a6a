// The self-assessment completed with the keyboard alone: Tab, arrow keys, Space and Enter, with a
// focus ring that can be seen on each control that gets the focus.
import test from 'node:test';
import assert from 'node:assert/strict';
import { useHarness, focusRing } from '../harness.mjs';

const H = useHarness(test);
const MAX_TABS = 300;

const active = (page) => page.evaluate(() => {
  const el = document.activeElement;
  const fs = el.closest('fieldset.question');
  const all = [...document.querySelectorAll('fieldset.question')];
  return {
    tag: el.tagName.toLowerCase(), type: el.type || '', name: el.name || '', value: el.value ?? '',
    fieldset: fs ? all.indexOf(fs) : -1,
    submit: el.matches('form[action="/me/assessment"] button[type="submit"]'),
    href: el.getAttribute('href') || '',
  };
});

async function tabUntil(page, want, what) {
  for (let i = 0; i < MAX_TABS; i++) {
    await page.keyboard.press('Tab');
    const a = await active(page);
    if (want(a)) return a;
  }
  assert.fail(`${what}: not reached in ${MAX_TABS} presses of Tab`);
}

const checkedIn = (fieldset) => fieldset.locator('input[type="radio"]:checked').evaluateAll((l) => l.map((e) => e.value));

test('keyboard only: log in, answer the first question, save', async () => {
  const h = H.h;
  const page = await h.newPage();

  // log in with the keyboard: the login field has the focus when the page opens
  await page.goto(h.url('/login'));
  assert.equal((await active(page)).name, 'login', 'the login field has the focus');
  await page.keyboard.type('ansatt');
  await page.keyboard.press('Tab');
  assert.equal((await active(page)).name, 'password');
  await page.keyboard.type('demo');
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.keyboard.press('Enter')]);

  await page.goto(h.url('/me/assessment'));
  // the first Tab reaches the skip link, and its focus ring is visible
  await page.keyboard.press('Tab');
  const skip = await active(page);
  assert.equal(skip.href, '#main', 'the first Tab stop is the skip link');
  const skipRing = await focusRing(page);
  assert.ok(skipRing.visible, `no visible focus on the skip link: ${JSON.stringify(skipRing)}`);

  const first = page.locator('fieldset.question').first();
  const was = await checkedIn(first);
  const reached = await tabUntil(page, (a) => a.type === 'radio', 'the first radio group');
  assert.equal(reached.fieldset, 0, 'the first radio reached is in the first question');
  // Tab lands on the checked radio of a group, or on its first one when none is checked
  assert.equal(reached.value, was.length ? was[0] : '0');
  const ring = await focusRing(page);
  assert.ok(ring.visible, `no visible focus on the radio: ${JSON.stringify(ring)}`);

  let level;
  if (!was.length) {
    await page.keyboard.press('Space');          // choose level 0 where nothing was chosen
    level = 0;
  } else {
    level = Number(was[0]);
  }
  const target = level < 4 ? level + 1 : 3;
  await page.keyboard.press(target > level ? 'ArrowDown' : 'ArrowUp');
  assert.deepEqual(await checkedIn(first), [String(target)], 'the arrow key chose the next level');
  assert.equal((await active(page)).value, String(target), 'the focus moved with the choice');
  assert.ok((await focusRing(page)).visible, 'no visible focus after the arrow key');

  const btn = await tabUntil(page, (a) => a.submit, 'the save button');
  assert.ok(btn.submit);
  const bring = await focusRing(page);
  assert.ok(bring.visible, `no visible focus on the save button: ${JSON.stringify(bring)}`);
  // the answer was not changed by tabbing through the other questions
  assert.deepEqual(await checkedIn(first), [String(target)]);
  await Promise.all([page.waitForURL(/\/me\/assessment\?saved=1$/), page.keyboard.press('Enter')]);

  const flash = page.locator('.flash[role="status"]');
  await assert.doesNotReject(flash.waitFor(), 'no saved message');
  assert.match(await flash.innerText(), /lagret/i);
  assert.deepEqual(await checkedIn(page.locator('fieldset.question').first()), [String(target)],
    'the new level is the current one after saving');
  // and the hint names it as the current level, a self-assessment
  // ("Profilen din krever nivå 4. Nå: nivå 2, 26.11.2026 (egenvurdering)")
  const hint = await page.locator('fieldset.question').first().locator('.hint').innerText();
  const now = hint.split('. ').slice(1).join('. ');
  assert.equal(Number((now.match(/\d+/) || [])[0]), target, `hint: ${hint}`);
  assert.match(now, /\(egenvurdering\)/, `hint: ${hint}`);
});
