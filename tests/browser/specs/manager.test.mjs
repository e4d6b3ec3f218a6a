// A manager ticks a profile for an employee in the buffet on /team and saves; that employee, in
// a browser of their own, then finds the profile's requirements as new questions in their
// self-assessment.
import test from 'node:test';
import assert from 'node:assert/strict';
import { useHarness } from '../harness.mjs';

const H = useHarness(test);
const LOGIN = 'browsertest', PASSWORD = 'browser-test-1';
const MAX_PAGES = 50;

const legends = (page) => page.locator('form[action="/me/assessment"] fieldset legend').allInnerTexts();

test('manager: a profile ticked on /team brings new questions to the employee', async (t) => {
  const h = H.h;
  const admin = await h.token('admin');
  const leder = await h.token('leder');

  // an employee of leder's without a login gets one (admin, through the API)
  // (leder sees exactly the people of the departments she manages, sub-departments included)
  const self = (await h.api('GET', '/me', null, leder)).json;
  assert.ok(self.managed_department_ids.length > 0, 'leder manages no department');
  const visible = (await h.api('GET', '/employees', null, leder)).json.items;
  const emp = visible.find((e) => e.id !== self.id && !e.login && !e.archived && e.roles.length === 1);
  assert.ok(emp, 'no employee without a login in leder\'s departments');
  const patched = await h.api('PATCH', `/employees/${emp.id}`, { login: LOGIN, password: PASSWORD }, admin);
  assert.equal(patched.status, 200, patched.text);

  // a profile of a system that demands what this employee is not asked yet
  const asked = new Set((await h.api('GET', `/employees/${emp.id}/questions`, null, admin)).json.items
    .map((q) => String(q.requirement_id)));
  const has = new Set((await h.api('GET', `/employees/${emp.id}/profiles`, null, admin)).json.profile_ids);
  const profiles = (await h.api('GET', '/profiles', null, admin)).json.items;
  const fresh = (p) => Object.entries(p.levels).filter(([rid, l]) => l > 0 && !asked.has(rid)).map(([rid]) => rid);
  const profile = profiles.find((p) => !p.archived && p.system_id && !has.has(p.id) && fresh(p).length > 0);
  assert.ok(profile, 'no profile that would ask something new');
  const texts = [];
  for (const rid of fresh(profile)) texts.push((await h.api('GET', `/requirements/${rid}`, null, admin)).json.text);
  t.diagnostic(`${emp.name} (${emp.id}) gets ${profile.name} (${profile.id}): ${texts.length} new questions`);

  // before: the employee is not asked about these
  const me = await h.newPage();
  await h.login(me, LOGIN, PASSWORD);
  await me.goto(h.url('/me/assessment'));
  const was = await legends(me);
  for (const q of texts) assert.ok(!was.some((l) => l.includes(q)), `asked already: ${q}`);

  // the manager, in a browser of their own: the employee's department, then the row and column
  const mgr = await h.newPage();
  await h.login(mgr, 'leder');
  const r = await mgr.goto(h.url('/team'));
  assert.equal(r.status(), 200);
  await mgr.locator('form.team-filter select[name="department_id"]').selectOption(String(emp.department_id));
  await Promise.all([
    mgr.waitForURL(/department_id=/),
    mgr.locator('form.team-filter button[type="submit"]').click(),
  ]);
  const row = mgr.locator('form[action="/team/profiles"] tbody tr').filter({ has: mgr.locator(`th#e${emp.id}`) });
  for (let i = 0; i < MAX_PAGES && (await row.count()) === 0; i++) {
    const next = mgr.locator('nav.pager a[rel="next"]');
    assert.equal(await next.count(), 1, `${emp.name} is on no page of the buffet`);
    await Promise.all([mgr.waitForURL(/page=/), next.click()]);
  }
  assert.equal(await row.count(), 1, `one row for ${emp.name}`);
  const box = row.locator(`input[type="checkbox"][value="${profile.id}"]`);
  assert.equal(await box.count(), 1, `a checkbox for ${profile.name} in ${emp.name}'s row`);
  assert.equal(await box.isChecked(), false);
  // its accessible name tells whom and what it is about
  const boxName = await box.evaluate((el) => el.getAttribute('aria-labelledby').split(' ')
    .map((id) => document.getElementById(id).textContent.trim()).join(' '));
  assert.ok(boxName.includes(emp.name) && boxName.includes(profile.name), `checkbox named "${boxName}"`);
  await box.check();
  await Promise.all([
    mgr.waitForURL(/saved=1/),
    mgr.locator('form[action="/team/profiles"] button[type="submit"]').click(),
  ]);
  await assert.doesNotReject(mgr.locator('.flash[role="status"]').waitFor(), 'no saved message');
  const again = mgr.locator(`form[action="/team/profiles"] tbody tr:has(th#e${emp.id}) input[type="checkbox"][value="${profile.id}"]`);
  assert.equal(await again.isChecked(), true, 'the box is ticked after saving');

  // the employee sees the new questions, and the profile on Min side
  await me.goto(h.url('/me/assessment'));
  const now = await legends(me);
  for (const q of texts) assert.ok(now.some((l) => l.includes(q)), `not asked: ${q}`);
  assert.equal(now.length, was.length + texts.length, 'exactly the new questions were added');
  await me.goto(h.url('/me'));
  assert.ok((await me.locator('#profiles-h + ul li, section[aria-labelledby="profiles-h"] li').allInnerTexts())
    .includes(profile.name), `${profile.name} is not among my profiles`);
});
