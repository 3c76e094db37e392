// Meter readings: search by account and period (kept in the address, so a search can be
// sent to a colleague), the billing CSV export of the same search, and the form to enter a
// reading an operator took. An operator looks up one account at a time (the server refuses
// them the list of every account, which is the billing export); the period's `to` is shown
// inclusive, sent exclusive.

import { api, query } from './api.js';
import { h, mount, errorBox, table } from './dom.js';
import { READING_SOURCES, addDays, dateTime, label, today } from './format.js';
import { readingForm } from './reading_form.js';

const SHOWN = 500;

export function renderReadings(root, { params, navigate, user }) {
  const now = today();
  const f = {
    account: (params.get('account') || '').trim(),
    from: params.get('from') || addDays(now, -29),
    to: params.get('to') || now,
  };
  const operator = user.role === 'operator';
  const input = (name, attrs) => h('input', { id: `r-${name}`, name, value: f[name], ...attrs });
  const form = h('form', { class: 'filters', id: 'readings-search', onsubmit: (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    data.account = (data.account || '').trim();
    if (data.account === f.account && data.from === f.from && data.to === f.to) load();
    else navigate('readings', data);
  } },
  field('Лицевой счёт', input('account', { inputmode: 'numeric', size: 14, placeholder: operator ? 'обязательно' : 'все счета', required: operator })),
  field('С', input('from', { type: 'date', required: true })),
  field('По', input('to', { type: 'date', required: true })),
  h('div', { class: 'actions' },
    h('button', { type: 'submit', class: 'primary' }, 'Найти'),
    h('a', { href: '#/readings', class: 'btn' }, 'Сбросить')));

  const q = { from: f.from, to: addDays(f.to, 1), account: f.account };
  // The page shows the newest readings; the whole period is the CSV's.
  const shown = { ...q, limit: SHOWN };
  // The export is the same search; an operator's needs an account, like the search.
  const csv = operator && !f.account ? null : h('a', {
    class: 'btn', id: 'readings-csv', href: `/api/readings${query({ ...q, format: 'csv' })}`,
    download: `readings-${f.account || 'all'}-${f.from}-${f.to}.csv`,
  }, 'Выгрузить CSV');
  const result = h('div', { class: 'result', id: 'readings-result' });
  const entry = readingForm({
    account: f.account,
    onSaved: (reading) => {
      if (reading.account === f.account) load();
      else navigate('readings', { ...f, account: reading.account });
    },
  });
  mount(root,
    h('div', { class: 'title-row' }, h('h1', {}, 'Показания счётчиков'), csv),
    form, result,
    h('section', { class: 'card' }, h('h2', {}, 'Принять показание'), entry));

  let alive = true;
  function load() {
    if (f.from > f.to) {
      mount(result, errorBox('Начало периода позже его конца. Исправьте даты.'));
      return;
    }
    if (operator && !f.account) {
      mount(result, h('p', { class: 'muted' }, 'Укажите лицевой счёт абонента, чтобы увидеть его показания.'));
      return;
    }
    mount(result, h('p', { class: 'muted' }, 'Загрузка…'));
    api('GET', `/api/readings${query(shown)}`).then((data) => {
      if (alive) mount(result, list((data && data.readings) || [], data && data.more));
    }).catch((e) => alive && mount(result, errorBox(e.message)));
  }
  load();
  return () => { alive = false; };
}

function field(text, control) {
  return h('label', { class: 'field' }, h('span', {}, text), control);
}

function list(readings, more) {
  if (!readings.length) return h('p', { class: 'empty' }, 'Показаний по этим условиям не найдено.');
  // Newest first, as the call list: the reading just entered is on top.
  const rows = [...readings].reverse().map((r) => h('tr', { class: `source-${r.source}` },
    h('td', {}, r.account),
    h('td', {}, r.meter),
    h('td', { class: 'num' }, String(r.value)),
    h('td', { class: 'num' }, String(r.previous)),
    h('td', {}, dateTime(r.at)),
    h('td', {}, label(READING_SOURCES, r.source)),
    h('td', {}, r.call_id
      ? h('a', { href: `#/call/${encodeURIComponent(r.call_id)}`, class: 'call-link' }, 'звонок')
      : '—')));
  return h('div', {},
    table(['Лицевой счёт', 'Счётчик', 'Показание', 'Предыдущее', 'Время', 'Источник', 'Звонок'], rows,
      { class: 'readings compact', id: 'readings-table' }),
    h('p', { class: 'muted small', id: 'readings-count' }, more
      ? `Показаны последние ${readings.length}. Уточните поиск или выгрузите CSV, чтобы получить все.`
      : `Показаний: ${readings.length}`));
}
