// The QA console in a real browser (headless Chromium through playwright-core) against a
// running hotline server. The server, its users, calls and recordings are prepared by
// tests/console_browser.rs, which passes them here in the environment:
//
//   HOTLINE_URL                 http://127.0.0.1:PORT
//   HOTLINE_SUPERVISOR, HOTLINE_SUPERVISOR_PASSWORD, HOTLINE_QA, HOTLINE_QA_PASSWORD
//   HOTLINE_CALL_ID             an answered call with a recording
//   HOTLINE_CALLER              that call's number; HOTLINE_SEARCH a part of it
//   HOTLINE_SEARCH_MATCHES      how many calls that part matches
//   HOTLINE_RECORDING_SECONDS   the recording's length
//   HOTLINE_HOLD                where on the recording the operator held the caller (m:ss–m:ss)
//   HOTLINE_OPERATOR            a registered operator to pause and resume
//   HOTLINE_STATS_FROM, HOTLINE_STATS_TO, HOTLINE_STATS_CALLS  a period and its call count
//   HOTLINE_STATS_SELF_SERVICE, HOTLINE_STATS_READINGS  that period's self-service share
//                               (as shown) and meter readings handed in
//   HOTLINE_OPERATOR_USER, HOTLINE_OPERATOR_PASSWORD  a console user of role operator, who
//                               answered HOTLINE_CALL_ID
//   HOTLINE_ACCOUNT             an account with meters K-101 (cold, last 120) and H-202 (hot,
//                               last 45), and one reading keyed in by phone: K-101 = 131
//   SCREENSHOTS                 where to save a PNG of each page
//
// Every wait is bounded; the first failure stops the run with what the page showed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through tests/console_browser.rs)`);
  return v;
};

const BASE = env('HOTLINE_URL');
const SHOTS = process.env.SCREENSHOTS || join(process.cwd(), 'console-screenshots');
const WAIT = 15_000;

let context;
let page;
let profile;
const pageErrors = [];

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'hotline-console-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // The player starts only on a click otherwise; the test checks loading, not hearing.
      '--autoplay-policy=no-user-gesture-required',
      '--lang=ru-RU',
    ],
    viewport: { width: 1366, height: 768 },
    locale: 'ru-RU',
    timezoneId: 'Europe/Moscow',
    timeout: 30_000,
  });
  context.setDefaultTimeout(WAIT);
  page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[134]/.test(m.text())) pageErrors.push(m.text());
  });
});

after(async () => {
  if (context) await context.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function shot(name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function login(user, password) {
  await page.locator('#username').fill(user);
  await page.locator('#password').fill(password);
  await page.getByRole('button', { name: 'Войти' }).click();
}

test('the root sends a visitor to the login screen; a wrong password is told in Russian', async () => {
  const response = await page.goto(`${BASE}/`);
  assert.equal(response.status(), 200);
  assert.match(page.url(), /\/console\/$/);
  await page.locator('#username').waitFor();
  await login(env('HOTLINE_SUPERVISOR'), 'wrong-password');
  await page.getByText('Неверное имя пользователя или пароль.').waitFor();
  await shot('01-login');
});

test('a supervisor logs in and sees the call list, their name and role', async () => {
  await login(env('HOTLINE_SUPERVISOR'), env('HOTLINE_SUPERVISOR_PASSWORD'));
  await page.locator('#calls-table').waitFor();
  assert.equal(await page.locator('#who-name').textContent(), env('HOTLINE_SUPERVISOR'));
  assert.equal(await page.locator('#who-role').textContent(), 'руководитель');
  assert.ok(await page.locator('#top nav a', { hasText: 'Сейчас на линии' }).isVisible());
  await shot('02-calls');
});

test('searching by a part of the number lists only matching calls', async () => {
  const part = env('HOTLINE_SEARCH');
  await page.locator('#f-caller').fill(part);
  await page.getByRole('button', { name: 'Найти' }).click();
  await page.waitForFunction((p) => location.hash.includes(`caller=${p}`), part);
  await page.locator('#calls-range').waitFor();
  const want = Number(env('HOTLINE_SEARCH_MATCHES'));
  await page.waitForFunction((n) => document.querySelectorAll('#calls-table tbody tr').length === n, want);
  const numbers = await page.locator('#calls-table tbody td:nth-child(2)').allTextContents();
  assert.equal(numbers.length, want);
  for (const n of numbers) assert.ok(n.includes(part), `${n} contains ${part}`);
  assert.equal(await page.locator('#calls-range').textContent(), `1–${want} из ${want}`);
  await shot('03-calls-search');
});

test('the direction filter tells call-backs from callers', async () => {
  // The number search stays in the form: only the direction changes.
  await page.locator('#f-direction').selectOption('outbound');
  await page.getByRole('button', { name: 'Найти' }).click();
  await page.waitForFunction(() => location.hash.includes('direction=outbound'));
  await page.getByText('Звонков по этим условиям не найдено.').waitFor();
  await page.locator('#f-direction').selectOption('inbound');
  await page.getByRole('button', { name: 'Найти' }).click();
  await page.waitForFunction(() => location.hash.includes('direction=inbound'));
  const want = Number(env('HOTLINE_SEARCH_MATCHES'));
  await page.waitForFunction((n) => document.querySelectorAll('#calls-table tbody tr').length === n, want);
  assert.equal(await page.locator('#calls-table .direction-out').count(), 0, 'no call-back marked');
});

test('the call page shows the register, and the recording loads with its full length', async () => {
  const id = env('HOTLINE_CALL_ID');
  await page.locator(`a[href="#/call/${id}"]`).click();
  await page.locator('#timeline').waitFor();
  assert.equal(await page.locator('#call-outcome').textContent(), 'Отвечен');
  const events = await page.locator('#timeline li').allTextContents();
  assert.ok(events.some((e) => e.includes('Соединён с оператором')), events.join(' | '));
  // What the caller heard: the operator's hold is told in words, in time order.
  const hold = events.findIndex((e) => e.includes('Оператор поставил абонента на удержание — абонент слышал музыку'));
  const resume = events.findIndex((e) => e.includes('Оператор снял абонента с удержания'));
  assert.ok(hold > 0 && resume > hold, events.join(' | '));
  await page.locator('table.rings tbody tr').first().waitFor();
  const results = await page.locator('table.rings tbody td:last-child').allTextContents();
  assert.deepEqual(results, ['Не ответил', 'Ответил']);

  await page.waitForFunction(() => {
    const a = document.querySelector('#player');
    return a && a.readyState >= 1 && Number.isFinite(a.duration);
  }, null, { timeout: WAIT });
  const audio = await page.locator('#player').evaluate((a) => ({
    readyState: a.readyState, duration: a.duration, error: a.error && a.error.code, src: a.currentSrc,
  }));
  const seconds = Number(env('HOTLINE_RECORDING_SECONDS'));
  assert.ok(audio.readyState >= 1, JSON.stringify(audio));
  assert.ok(Math.abs(audio.duration - seconds) < 0.1, `duration ${audio.duration} ≈ ${seconds}`);
  assert.match(audio.src, new RegExp(`/api/calls/${id}/recording$`));

  // The level view has read the whole file: both lanes, one peak per 10 ms.
  await page.getByText('Стерео, 8000 Гц').waitFor();
  // The hold is shaded there, and its legend says where and what the caller heard.
  const legend = await page.locator('#wave-legend li').allTextContents();
  assert.equal(legend.length, 1, legend.join(' | '));
  assert.ok(legend[0].startsWith(env('HOTLINE_HOLD')), legend[0]);
  assert.ok(legend[0].includes('абонент слышал музыку'), legend[0]);
  assert.equal(await page.locator('#download').getAttribute('href'), `/api/calls/${id}/recording?download=1`);

  // Listening to one side goes through the Web Audio graph; the element keeps playing.
  await page.locator('#player').evaluate((a) => a.play());
  await page.locator('.segmented button', { hasText: 'Абонент' }).click();
  assert.equal(await page.locator('.segmented button', { hasText: 'Абонент' }).getAttribute('aria-pressed'), 'true');
  await page.waitForFunction(() => document.querySelector('#player').currentTime > 0.2);
  await page.locator('#player').evaluate((a) => a.pause());

  // The audio metrics: one turn of each side (caller first, then operator), never both,
  // drawn as bars over the recording.
  await page.locator('#audio svg').waitFor();
  assert.equal(await page.locator('#audio rect.seg-caller').count(), 1);
  assert.equal(await page.locator('#audio rect.seg-operator').count(), 1);
  assert.equal(await page.locator('#audio rect.seg-overtalk').count(), 0);
  await shot('04-call');
});

test('a topic chosen on the call page is saved in the register', async () => {
  await page.locator('#topic').selectOption('meter_readings');
  await page.getByText('Сохранено').waitFor();
  await page.reload();
  await page.locator('#timeline').waitFor();
  assert.equal(await page.locator('#topic').inputValue(), 'meter_readings');
});

test('the live board shows an operator paused and resumed as it happens', async () => {
  const op = env('HOTLINE_OPERATOR');
  await page.locator('#top nav a', { hasText: 'Сейчас на линии' }).click();
  const row = page.locator(`#operators-table tr[data-operator="${op}"]`);
  await row.waitFor();
  await page.waitForFunction((o) => {
    const r = document.querySelector(`#operators-table tr[data-operator="${o}"]`);
    return r && r.textContent.includes('Свободен') && r.textContent.includes('подключён');
  }, op);
  await page.locator('#service-level').waitFor();

  await row.getByRole('button', { name: 'Пауза' }).click();
  await page.locator('#pause-reason').fill('обучение');
  await page.locator('#pause-confirm').click();
  await page.waitForFunction((o) => {
    const r = document.querySelector(`#operators-table tr[data-operator="${o}"]`);
    return r && r.textContent.includes('Пауза') && r.textContent.includes('обучение');
  }, op);
  await shot('05-live-paused');

  await row.getByRole('button', { name: 'Снять паузу' }).click();
  await page.waitForFunction((o) => {
    const r = document.querySelector(`#operators-table tr[data-operator="${o}"]`);
    return r && r.textContent.includes('Свободен');
  }, op);
  assert.equal(await page.locator('#live-callbacks').textContent(), 'Перезвонов сейчас нет.');
});

test('a call-back in progress is on the live board with its stage, number and operator', async () => {
  // The server's snapshot of a call-back (tests/e2e_callback.rs checks the server side).
  const op = env('HOTLINE_OPERATOR');
  const at = new Date().toISOString();
  const snap = {
    at,
    operators: [{ id: op, name: op, state: 'talking', pause_reason: null, call_id: 'cb-1', registered: true, skills: [] }],
    waiting: [],
    callbacks: [{
      call_id: 'cb-1', item: 3, number: '+7911555****', operator: op, direction: 'outbound',
      stage: 'ringing_citizen', since: at, stage_ms: 12_000, topic: 'billing',
    }],
    active_calls: 1,
    longest_wait_ms: 0,
  };
  await page.route('**/api/live', (route) => route.fulfill({
    status: 200, contentType: 'text/event-stream', body: `event: snapshot\ndata: ${JSON.stringify(snap)}\n\n`,
  }));
  try {
    await page.locator('#top nav a', { hasText: 'Пропущенные' }).click();
    await page.locator('#top nav a', { hasText: 'Сейчас на линии' }).click();
    const row = page.locator('#callbacks-table tr[data-call="cb-1"]');
    await row.waitFor();
    const text = await row.textContent();
    for (const part of ['+7911555****', 'запись №3', op, 'Перезвон: вызов абонента', '0:1', 'Начисления и оплата']) {
      assert.ok(text.includes(part), `${part} in ${text}`);
    }
    assert.equal(await row.locator('a', { hasText: 'открыть' }).getAttribute('href'), '#/call/cb-1');
    const operator = await page.locator(`#operators-table tr[data-operator="${op}"]`).textContent();
    assert.ok(operator.includes('Разговор') && operator.includes('(перезвон)'), operator);
    await shot('05-live-callback');
  } finally {
    await page.unroute('**/api/live');
  }
});

test('statistics for the period count the calls and offer a CSV export', async () => {
  const from = env('HOTLINE_STATS_FROM');
  const to = env('HOTLINE_STATS_TO');
  await page.goto(`${BASE}/console/#/stats?from=${from}&to=${to}`);
  await page.locator('#stats-total').waitFor();
  const first = await page.locator('#stats-total .tile').first().textContent();
  assert.equal(first, `Звонков${env('HOTLINE_STATS_CALLS')}`);
  // A bar per series and day with calls (a day without any draws none).
  await page.waitForFunction(() => document.querySelectorAll('#chart-calls rect').length > 0);
  await page.locator('#stats-days tbody tr').first().waitFor();
  // The share of calls settled without an operator, and the readings handed in per day.
  assert.equal(await page.locator('#tile-self-service .tile-value').textContent(), env('HOTLINE_STATS_SELF_SERVICE'));
  assert.equal(await page.locator('#tile-readings .tile-value').textContent(), env('HOTLINE_STATS_READINGS'));
  const readingDays = await page.locator('#stats-readings-days tbody tr').allTextContents();
  assert.ok(readingDays.length >= 1, 'a row per day');
  await page.waitForFunction(() => document.querySelectorAll('#chart-readings rect').length > 0);
  const csv = await page.locator('#csv').getAttribute('href');
  assert.match(csv, /^\/api\/stats\?.*format=csv/);
  const response = await page.request.get(`${BASE}${csv}`);
  assert.equal(response.status(), 200);
  assert.ok((await response.text()).trim().split('\n').length >= 2, 'CSV has a header and rows');
  await shot('06-stats');
});

test('missed calls are on the worklist, merged per number, and can be marked called back', async () => {
  await page.locator('#top nav a', { hasText: 'Пропущенные' }).click();
  await page.locator('#worklist-table').waitFor();
  const row = page.locator('#worklist-table tr', { hasText: '79161230000' });
  await row.waitFor();
  assert.equal(await row.getAttribute('data-state'), 'new');
  assert.equal(await page.locator('#worklist-table tr', { hasText: '74950001122' }).count(), 1);
  await shot('08-worklist');
  await row.locator('button[data-action="called_back"]').click();
  await page.waitForFunction(() => {
    const r = [...document.querySelectorAll('#worklist-table tr')].find((t) => t.textContent.includes('79161230000'));
    return r && r.dataset.state === 'called_back' && r.textContent.includes('перезвонили');
  });
});

test('logging out ends the session', async () => {
  await page.locator('#logout').click();
  await page.locator('#username').waitFor();
  const me = await page.request.get(`${BASE}/api/me`);
  assert.equal(me.status(), 401);
});

test('a QA user has no live board', async () => {
  await login(env('HOTLINE_QA'), env('HOTLINE_QA_PASSWORD'));
  await page.locator('#calls-table').waitFor();
  assert.equal(await page.locator('#who-role').textContent(), 'контроль качества');
  assert.equal(await page.locator('#top nav a', { hasText: 'Сейчас на линии' }).count(), 0);
  await page.goto(`${BASE}/console/#/live`);
  await page.getByText('Недостаточно прав').waitFor();
  await shot('07-qa-no-live');
});

test('an admin puts a recording under legal hold with a reason, and lifts it', async () => {
  await page.locator('#logout').click();
  await page.locator('#username').waitFor();
  await login(env('HOTLINE_ADMIN'), env('HOTLINE_ADMIN_PASSWORD'));
  await page.locator('#calls-table').waitFor();
  const id = env('HOTLINE_CALL_ID');
  await page.goto(`${BASE}/console/#/call/${encodeURIComponent(id)}`);
  // A hold needs its reason: without one the console says so and changes nothing.
  await page.locator('#legal-hold-set').click();
  await page.getByText('Укажите основание запрета удаления.').waitFor();
  await page.locator('#legal-hold-reason').fill('запрос прокуратуры 7/2026');
  await page.locator('#legal-hold-set').click();
  await page.locator('#legal-hold', { hasText: 'запрос прокуратуры 7/2026' }).waitFor();
  assert.match(await page.locator('#legal-hold').textContent(), /Запрет удаления/);
  const call = await (await page.request.get(`${BASE}/api/calls/${encodeURIComponent(id)}`)).json();
  assert.equal(call.legal_hold.reason, 'запрос прокуратуры 7/2026');
  await shot('09-legal-hold');
  await page.locator('#legal-hold-lift').click();
  await page.locator('#legal-hold-reason').waitFor();
  assert.equal(await page.locator('#legal-hold').count(), 0);
});

test('an operator finds the readings of an account, enters one, and sees it in the table', async () => {
  await page.locator('#logout').click();
  await page.locator('#username').waitFor();
  await login(env('HOTLINE_OPERATOR_USER'), env('HOTLINE_OPERATOR_PASSWORD'));
  await page.locator('#calls-table').waitFor();
  await page.locator('#top nav a', { hasText: 'Показания' }).click();
  // An operator looks up one account at a time: without one, the page asks for it.
  await page.getByText('Укажите лицевой счёт абонента, чтобы увидеть его показания.').waitFor();
  assert.equal(await page.locator('#readings-csv').count(), 0);

  const account = env('HOTLINE_ACCOUNT');
  await page.locator('#r-account').fill(account);
  await page.getByRole('button', { name: 'Найти' }).click();
  await page.waitForFunction((a) => location.hash.includes(`account=${a}`), account);
  await page.locator('#readings-table').waitFor();
  const found = await page.locator('#readings-table tbody tr').allTextContents();
  assert.equal(found.length, 1, found.join(' | '));
  const cells = await page.locator('#readings-table tbody tr').first().locator('td').allTextContents();
  assert.deepEqual(cells.slice(0, 4), [account, 'K-101', '131', '120']);
  assert.equal(cells[5], 'по телефону');
  assert.equal(cells[6], 'звонок');

  // The export for billing is the same search, as CSV.
  const csv = await page.locator('#readings-csv').getAttribute('href');
  assert.match(csv, new RegExp(`^/api/readings\\?.*account=${account}.*format=csv`));
  const response = await page.request.get(`${BASE}${csv}`);
  assert.equal(response.status(), 200);
  const lines = (await response.text()).trim().split(/\r?\n/);
  assert.equal(lines[0], 'account;meter;value;previous;at;source;call_id');
  assert.ok(lines[1].startsWith(`${account};K-101;131;120;`), lines[1]);

  // The form has the account searched for and offers its meters with their last readings:
  // K-101's is the 131 handed in by phone, though billing's export still says 120.
  await page.waitForFunction(() => {
    const m = document.querySelector('#reading-meter');
    return m && !m.disabled && m.options.length === 2;
  });
  const meters = await page.locator('#reading-meter option').allTextContents();
  assert.deepEqual(meters, ['K-101 — холодная вода, последнее 131', 'H-202 — горячая вода, последнее 45']);
  await page.locator('#reading-meter').selectOption('H-202');
  // A value below the last one is caught before it is sent.
  await page.locator('#reading-value').fill('40');
  await page.locator('#reading-save').click();
  await page.getByText('Показание меньше последнего известного (45). Проверьте цифры.').waitFor();
  await page.locator('#reading-value').fill('52');
  await page.locator('#reading-save').click();
  await page.getByText('Показание 52 по счётчику H-202 сохранено').waitFor();
  // The new reading heads the table, entered by an operator.
  await page.waitForFunction(() => document.querySelectorAll('#readings-table tbody tr').length === 2);
  const top = await page.locator('#readings-table tbody tr').first().locator('td').allTextContents();
  assert.deepEqual(top.slice(0, 4), [account, 'H-202', '52', '45']);
  assert.equal(top[5], 'оператор');
  assert.equal(top[6], '—');
  await shot('10-readings');
});

test('on the call page the operator enters a reading tied to that call', async () => {
  const id = env('HOTLINE_CALL_ID');
  const account = env('HOTLINE_ACCOUNT');
  await page.goto(`${BASE}/console/#/call/${encodeURIComponent(id)}`);
  await page.locator('#call-readings').waitFor();
  await page.getByText('В этом звонке показаний не передавали.').waitFor();
  await page.locator('#reading-account').fill(account);
  await page.waitForFunction(() => {
    const m = document.querySelector('#reading-meter');
    return m && !m.disabled && m.options.length === 2;
  });
  await page.locator('#reading-meter').selectOption('K-101');
  await page.locator('#reading-value').fill('140');
  await page.locator('#reading-save').click();
  await page.getByText('Показание 140 по счётчику K-101 сохранено').waitFor();
  const row = async () => page.locator('#call-readings-table tbody tr').first().locator('td').allTextContents();
  let cells = await row();
  // Its previous value is the last reading handed in (131 by phone), not billing's 120.
  assert.deepEqual(cells.slice(0, 4), [account, 'K-101', '140', '131']);
  assert.equal(cells[5], 'оператор');
  // It is stored with the call: there after a reload, and on the readings page with a link
  // back to this call.
  await page.reload();
  await page.locator('#call-readings-table').waitFor();
  cells = await row();
  assert.deepEqual(cells.slice(0, 3), [account, 'K-101', '140']);
  await shot('11-call-readings');
  await page.goto(`${BASE}/console/#/readings?account=${account}`);
  await page.waitForFunction(() => document.querySelectorAll('#readings-table tbody tr').length === 3);
  const link = page.locator('#readings-table tbody tr').first().locator('a.call-link');
  assert.equal(await link.getAttribute('href'), `#/call/${encodeURIComponent(id)}`);
});

test('no script errors on any page', () => {
  assert.deepEqual(pageErrors, []);
});
