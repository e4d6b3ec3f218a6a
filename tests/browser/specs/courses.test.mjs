// An employee accepts a course invitation on "Mine kurs" and, after attending, evaluates the
// course there. The adviser's side (course, session, invitation, attendance) and the approval go
// through the API as admin. The server runs on the real clock, so the session starts a few
// seconds after it is made: the answer comes before it starts, the attendance after.
import test from 'node:test';
import assert from 'node:assert/strict';
import { useHarness } from '../harness.mjs';

const H = useHarness(test);

const iso = (ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

test('employee: accepts an invitation on /me/courses and later evaluates the course', async () => {
  const h = H.h;
  const admin = await h.token('admin');
  const me = await h.api('POST', '/session', { login: 'ansatt', password: 'demo' });
  assert.equal(me.status, 201, me.text);
  const employeeId = me.json.employee_id;

  const title = `Nettlesertest ${Date.now()}`;
  const course = await h.api('POST', '/courses', { title, hours: 3 }, admin);
  assert.equal(course.status, 201, course.text);
  const question = await h.api('POST', `/courses/${course.json.id}/evaluation-questions`,
    { text: 'Hvor nyttig var kurset?', kind: 'scale' }, admin);
  assert.equal(question.status, 201, question.text);
  const startsAt = Date.now() + 8000;
  const session = await h.api('POST', `/courses/${course.json.id}/sessions`, {
    starts_at: iso(startsAt), ends_at: iso(startsAt + 3 * 3600 * 1000), place: 'Rådhuset', capacity: 5,
  }, admin);
  assert.equal(session.status, 201, session.text);
  const invited = await h.api('POST', `/sessions/${session.json.id}/invitations`,
    { employee_ids: [employeeId] }, admin);
  assert.equal(invited.status, 201, invited.text);
  const enrolment = invited.json.items[0].id;

  const page = await h.newPage();
  await h.login(page, 'ansatt');
  await page.goto(h.url('/me/courses'));
  const row = page.locator(`#enrolment-${enrolment}`);
  await assert.doesNotReject(row.waitFor(), 'the invitation is not on Mine kurs');
  assert.match(await row.innerText(), /Invitert/);
  await Promise.all([
    page.waitForURL(/\/me\/courses\?done=accepted$/),
    row.locator(`form[action="/me/courses/${enrolment}/accept"] button`).click(),
  ]);
  assert.match(await page.locator('.flash[role="status"]').innerText(), /takket ja/);
  assert.match(await page.locator(`#enrolment-${enrolment}`).innerText(), /venter på godkjenning/);
  let got = await h.api('GET', `/enrolments/${enrolment}`, null, admin);
  assert.equal(got.json.state, 'accepted');

  const approved = await h.api('POST', `/enrolments/${enrolment}/approve`, {}, admin);
  assert.equal(approved.status, 200, approved.text);
  // attendance is possible once the session has started
  await new Promise((r) => setTimeout(r, Math.max(0, startsAt - Date.now() + 1500)));
  const attended = await h.api('POST', `/enrolments/${enrolment}/attend`, {}, admin);
  assert.equal(attended.status, 200, attended.text);

  await page.goto(h.url('/me/courses'));
  const link = page.locator(`#enrolment-${enrolment} a[href="/me/courses/${enrolment}/evaluation"]`);
  await Promise.all([page.waitForURL(/\/evaluation$/), link.click()]);
  const fieldset = page.locator('fieldset').filter({ hasText: 'Hvor nyttig var kurset?' });
  await fieldset.locator('input[type="radio"][value="5"]').check();
  await Promise.all([
    page.waitForURL(/\/me\/courses\?done=evaluated$/),
    page.locator(`form[action="/me/courses/${enrolment}/evaluation"] button[type="submit"]`).click(),
  ]);
  assert.match(await page.locator(`#enrolment-${enrolment}`).innerText(), /Kurset er evaluert/);
  const results = await h.api('GET', `/courses/${course.json.id}/evaluations`, null, admin);
  assert.equal(results.status, 200, results.text);
  assert.equal(results.json.responses, 1);

  // the second time it is done
  await page.goto(h.url(`/me/courses/${enrolment}/evaluation`));
  assert.match(await page.locator('main').innerText(), /allerede evaluert/);
  got = await h.api('GET', `/enrolments/${enrolment}`, null, admin);
  assert.equal(got.json.evaluated, true);
});
