// harness: the real evne server on a free loopback port with a fresh demo database, and Debian's
// chromium driven headless by playwright-core.
//
//   import { start } from './harness.mjs';
//   const h = await start();                   // evne demo + evne serve + chromium
//   const page = await h.newPage();            // a fresh browser context (own cookies), 1280x800
//   await h.login(page, 'ansatt');             // through the login form; password 'demo'
//   await page.goto(h.url('/me'));
//   const { status, json } = await h.api('GET', '/systems', null, await h.token('admin'));
//   await h.stop();                            // browser, then SIGTERM to the server; bounded
//
// Environment: EVNE_BIN (the evne binary; default build/evne in the repository root),
// EVNE_CHROMIUM (default /usr/bin/chromium). The server runs in the repository root so that it
// finds rules/, web/ and lua/ there. Every wait is bounded; a server that does not come up fails
// with the tail of its log.
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.resolve(ROOT, process.env.EVNE_BIN || 'build/evne');
export const CHROMIUM = process.env.EVNE_CHROMIUM || '/usr/bin/chromium';
export const PASSWORD = 'demo';

// As the machine notes say: headless, no sandbox (we run as root), and nothing that reaches out
// to the network, which is closed here. playwright-core gives every launch a fresh, empty
// user-data-dir of its own (and removes it on close).
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const DEMO_WAIT = 60_000;    // ms for `evne demo`
const START_WAIT = 10_000;   // ms for the "serving ... on http://..." line and /healthz
const STOP_WAIT = 10_000;    // ms for the server to exit after SIGTERM, and for chromium to close
export const NAV_TIMEOUT = 15_000;

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function tail(file, n = 30) {
  try {
    const lines = (await readFile(file, 'utf8')).split('\n');
    return lines.slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

function run(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: DEMO_WAIT, ...opts }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

// Starts `evne serve` on port 0 and waits for the line that names the port it got.
function serve(db, log) {
  return new Promise((resolve, reject) => {
    const out = openSync(log, 'a');
    const child = spawn(BIN, ['serve', '--db', db, '--host', '127.0.0.1', '--port', '0'], {
      cwd: ROOT, stdio: ['ignore', out, 'pipe'],
    });
    closeSync(out);
    let seen = '', done = false;
    const finish = (err, port) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(new Error(`${err}\n--- server stderr ---\n${seen}`));
      } else {
        resolve({ child, port, stderr: () => seen });
      }
    };
    const timer = setTimeout(() => finish(`evne serve did not say where it serves in ${START_WAIT} ms`), START_WAIT);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      seen += chunk;
      const m = seen.match(/serving .* on http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) finish(null, Number(m[1]));
    });
    child.on('error', (e) => finish(`cannot start ${BIN}: ${e.message}`));
    child.on('exit', (code, signal) => finish(`evne serve exited early (code ${code}, signal ${signal})`));
  });
}

export async function start({ viewport = { width: 1280, height: 800 }, locale = 'nb-NO' } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'evne-browser-'));
  const db = path.join(dir, 'evne.db');
  const log = path.join(dir, 'server.stdout');
  let server, browser;
  try {
    await run(BIN, ['demo', '--db', db], { cwd: ROOT });
    server = await serve(db, log);
    const base = `http://127.0.0.1:${server.port}`;
    // the server answers before we go on
    const deadline = Date.now() + START_WAIT;
    for (;;) {
      try {
        const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (r.ok) break;
      } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`/healthz did not answer in ${START_WAIT} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    browser = await withTimeout(
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: START_WAIT }),
      START_WAIT * 2, 'chromium launch');
    return new Harness({ dir, db, base, server, browser, viewport, locale });
  } catch (e) {
    if (browser) await withTimeout(browser.close(), STOP_WAIT, 'chromium close').catch(() => {});
    if (server) server.child.kill('SIGKILL');
    const stderr = server ? server.stderr() : '';
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${e.message}${stderr ? `\n--- server stderr ---\n${stderr}` : ''}`);
  }
}

class Harness {
  constructor({ dir, db, base, server, browser, viewport, locale }) {
    Object.assign(this, { dir, db, base, server, browser, viewport, locale });
    this.contexts = [];
    this.foreign = [];   // requests that left the evne server: there must be none
    this.tokens = {};
  }

  url(p) { return new URL(p, this.base).href; }

  // A fresh browser context (no cookies shared with any other) and a page in it.
  async newPage({ viewport = this.viewport, locale = this.locale } = {}) {
    const ctx = await this.browser.newContext({ viewport, locale });
    ctx.setDefaultTimeout(NAV_TIMEOUT);
    ctx.setDefaultNavigationTimeout(NAV_TIMEOUT);
    ctx.on('request', (req) => {
      const u = req.url();
      if (!u.startsWith(this.base + '/') && !u.startsWith('data:') && u !== 'about:blank') this.foreign.push(u);
    });
    this.contexts.push(ctx);
    return ctx.newPage();
  }

  // Logs in through the login form, as a person would; answers the page it lands on.
  async login(page, login, password = PASSWORD) {
    await page.goto(this.url('/login'));
    await page.locator('#login').fill(login);
    await page.locator('#password').fill(password);
    await Promise.all([
      page.waitForURL((u) => !u.pathname.startsWith('/login')),
      page.locator('form[action="/login"] button[type="submit"]').click(),
    ]);
    return page;
  }

  // A JSON API call; token may be null.
  async api(method, p, body, token) {
    const headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const r = await fetch(this.url(`/api/v1${p}`), {
      method, headers, body: body === null || body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(NAV_TIMEOUT),
    });
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    return { status: r.status, json, text };
  }

  async token(login, password = PASSWORD) {
    if (this.tokens[login]) return this.tokens[login];
    const { status, json, text } = await this.api('POST', '/session', { login, password });
    if (status !== 201) throw new Error(`POST /session as ${login}: ${status} ${text}`);
    this.tokens[login] = json.token;
    return json.token;
  }

  // The status a logged-in person gets for a page (to see whether a colleague's page exists yet).
  async statusOf(page, p) {
    const r = await page.goto(this.url(p));
    return r ? r.status() : 0;
  }

  // Closes chromium, then stops the server with SIGTERM (SIGKILL after STOP_WAIT); removes the
  // temporary folder. Answers the server's exit code (0 after a clean stop) and its log.
  async stop() {
    for (const ctx of this.contexts) await withTimeout(ctx.close(), STOP_WAIT, 'context close').catch(() => {});
    await withTimeout(this.browser.close(), STOP_WAIT, 'chromium close').catch(() => {});
    const child = this.server.child;
    const exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (code, signal) => resolve(code ?? `signal ${signal}`));
    });
    child.kill('SIGTERM');
    let code;
    try {
      code = await withTimeout(exited, STOP_WAIT, 'evne serve after SIGTERM');
    } catch {
      child.kill('SIGKILL');
      code = await withTimeout(exited, STOP_WAIT, 'evne serve after SIGKILL').catch(() => 'still running');
      code = `no exit after SIGTERM (${code})`;
    }
    const log = this.server.stderr() + (await tail(path.join(this.dir, 'server.stdout')));
    await rm(this.dir, { recursive: true, force: true });
    return { code, log };
  }
}

// Numbers shown in a piece of text, in order ("Dekning 25 %, 3 gap, gapsum 7" -> [25, 3, 7]).
export function numbers(text) {
  return (text.match(/-?\d+(?:[.,]\d+)?/g) || []).map((s) => Number(s.replace(',', '.')));
}

// Is an outline or a box-shadow drawn around the element that has the focus?
export async function focusRing(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const s = getComputedStyle(el);
    const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
    const shadow = s.boxShadow && s.boxShadow !== 'none';
    return {
      visible: outline || shadow,
      tag: el.tagName.toLowerCase(), type: el.type || '', name: el.name || '', value: el.value ?? '',
      outline: `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`, boxShadow: s.boxShadow,
    };
  });
}

// For a spec file: one harness for all its tests, started before and stopped after them; the
// stop must be clean (exit code 0) and no page may have asked anything of another host.
export function useHarness(test, opts) {
  const ref = {};
  test.before(async () => { ref.h = await start(opts); });
  test.after(async () => {
    if (!ref.h) return;
    const { code, log } = await ref.h.stop();
    if (code !== 0) throw new Error(`evne serve did not stop cleanly: ${code}\n${log}`);
    if (ref.h.foreign.length) throw new Error(`requests to other hosts: ${ref.h.foreign.join(', ')}`);
  });
  return ref;
}

// "Min side": for each system, the gap sum in its summary line and its requirements' rows.
export async function myGaps(page) {
  return page.locator('h3[id^="system-"]').evaluateAll((heads) => heads.map((h) => {
    const bar = h.nextElementSibling;              // <p class="bar-row">
    const wrap = bar.nextElementSibling;           // <div class="table-wrap"><table>
    const rows = [...wrap.querySelectorAll('tbody tr')].map((tr) => {
      const td = [...tr.querySelectorAll('td')].map((c) => c.textContent.trim());
      const actual = /^\d+$/.test(td[2]) ? Number(td[2]) : null;
      return { text: td[0], required: Number(td[1]), actual, gap: parseInt(td[3], 10) };
    });
    const nums = (bar.textContent.match(/\d+/g) || []).map(Number);
    return { id: h.id.replace('system-', ''), name: h.textContent.trim(), barSum: nums[nums.length - 1], rows };
  }));
}
