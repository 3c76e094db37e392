// Call grading in a real browser (headless Chromium through playwright-core) against the
// server tests/console_browser.rs prepared (after console.test.mjs ran on it):
//
//   HOTLINE_URL, HOTLINE_QA, HOTLINE_QA_PASSWORD, HOTLINE_CALL_ID (an answered call of
//   the operator, with a recording), HOTLINE_OPERATOR_USER, HOTLINE_OPERATOR_PASSWORD
//   (a console user of role operator linked to that call's operator), SCREENSHOTS.
//
// A grader writes a form, grades the call beside the player with a comment at a moment
// picked on the level view and sees the score the server computed; the operator logs in,
// sees only their call and the evaluation, and disputes it. Every wait is bounded.

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
  profile = mkdtempSync(join(tmpdir(), 'hotline-quality-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required', '--lang=ru-RU',
    ],
    viewport: { width: 1366, height: 900 },
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
  await page.goto(`${BASE}/console/#/login`);
  await page.locator('#username').fill(user);
  await page.locator('#password').fill(password);
  await page.getByRole('button', { name: 'Войти' }).click();
  await page.locator('#calls-table').waitFor();
}

test('a grader writes an evaluation form', async () => {
  await login(env('HOTLINE_QA'), env('HOTLINE_QA_PASSWORD'));
  await page.goto(`${BASE}/console/#/forms`);
  await page.locator('#form-json').waitFor();
  // The editor opens with an example form: saved as it is.
  await page.locator('#save-form').click();
  await page.getByText('Сохранено: версия 1').waitFor();
  await page.getByText('Базовая форма (версия 1)').waitFor();
  await shot('q1-forms');
});

test('a grader grades the call beside the player and sees the server\'s score', async () => {
  const id = env('HOTLINE_CALL_ID');
  await page.goto(`${BASE}/console/#/call/${encodeURIComponent(id)}`);
  await page.locator('#grading-form').waitFor();
  await page.getByText('Звонок ещё не оценивали.').waitFor();
  // "Greeted": no (1 of 8 weighted points lost); the rest as the form opens: best answers.
  await page.locator('select[name="q-hello"]').selectOption('false');
  // A click on the level view picks the moment of the comment.
  const wave = page.locator('#wave');
  await wave.waitFor();
  const box = await wave.boundingBox();
  await wave.click({ position: { x: box.width / 2, y: box.height / 2 } });
  await page.waitForFunction(() => document.querySelector('#comment-at').value !== '');
  const at = Number(await page.locator('#comment-at').inputValue());
  assert.ok(at > 0, `moment picked on the timeline: ${at} ms`);
  await page.locator('#comment-text').fill('Не поздоровался');
  await page.locator('#add-comment').click();
  await page.locator('#save-evaluation').click();
  await page.locator('#saved-score').waitFor();
  assert.equal(await page.locator('#saved-score').textContent(), 'Сохранено: 87.5 баллов');
  await page.locator('#evaluations .evaluation .score', { hasText: '87.5' }).waitFor();
  const comment = await page.locator('#evaluations .comments li').first().textContent();
  assert.match(comment, /Не поздоровался/);
  await shot('q2-graded');
  await page.locator('#logout').click();
  await page.locator('#username').waitFor();
});

test('the operator sees only their call and its evaluation, and disputes it', async () => {
  await login(env('HOTLINE_OPERATOR_USER'), env('HOTLINE_OPERATOR_PASSWORD'));
  assert.equal(await page.locator('#who-role').textContent(), 'оператор');
  await page.waitForFunction(() => document.querySelectorAll('#calls-table tbody tr').length === 1);
  assert.equal(await page.locator('#calls-range').textContent(), '1–1 из 1');
  assert.equal(await page.locator('#top nav a', { hasText: 'Статистика' }).count(), 0);
  await shot('q3-operator-calls');
  await page.locator('#top nav a', { hasText: 'Мои оценки' }).click();
  await page.locator('#my-evaluations .evaluation .score', { hasText: '87.5' }).waitFor();
  await page.locator('#my-evaluations .dispute-text').fill('Я поздоровался, это слышно в начале');
  await page.locator('#my-evaluations .dispute').click();
  await page.locator('#my-evaluations .eval-status', { hasText: 'оспорено' }).waitFor();
  assert.equal(await page.locator('#my-evaluations .operator-comment').textContent(), 'Я поздоровался, это слышно в начале');
  await shot('q4-operator-disputed');
});

test('no script errors on any page', () => {
  assert.deepEqual(pageErrors, []);
});
