// Statistics for a period: totals (with the share of calls settled in self-service),
// per-day charts and table, meter readings per day by source, per operator, per topic, and
// a CSV export of the same query. The period's `to` is shown inclusive, sent exclusive.

import { api, query } from './api.js';
import { h, mount, errorBox, table } from './dom.js';
import { TOPICS, addDays, day, duration, label, percent, setZone, today } from './format.js';
import { MS_STEPS, barChart, hbars } from './charts.js';

const COLORS = {
  calls: '#5b6b7b', answered: '#2e8540', abandoned: '#d4761c', after_hours: '#7a5ab8', sl: '#1f6fb2', wait: '#b03a2e',
  self_service: '#2a9d8f', readings_phone: '#2a9d8f', readings_operator: '#1f6fb2',
};

export function renderStats(root, { params, navigate }) {
  const now = today();
  const from = params.get('from') || addDays(now, -6);
  const to = params.get('to') || now;
  const fromInput = h('input', { type: 'date', id: 's-from', name: 'from', value: from, required: true });
  const toInput = h('input', { type: 'date', id: 's-to', name: 'to', value: to, required: true });
  const preset = (text, f, t) => h('button', { type: 'button', onclick: () => navigate('stats', { from: f, to: t }) }, text);
  const monthStart = `${now.slice(0, 8)}01`;
  const form = h('form', { class: 'filters', onsubmit: (e) => {
    e.preventDefault();
    navigate('stats', { from: fromInput.value, to: toInput.value });
  } },
  h('label', { class: 'field' }, h('span', {}, 'С'), fromInput),
  h('label', { class: 'field' }, h('span', {}, 'По'), toInput),
  h('div', { class: 'actions' },
    h('button', { type: 'submit', class: 'primary' }, 'Показать'),
    preset('Сегодня', now, now),
    preset('7 дней', addDays(now, -6), now),
    preset('30 дней', addDays(now, -29), now),
    preset('Этот месяц', monthStart, now)));
  const q = { from, to: addDays(to, 1) };
  const result = h('div', {}, h('p', { class: 'muted' }, 'Загрузка…'));
  mount(root,
    h('div', { class: 'title-row' }, h('h1', {}, 'Статистика'),
      h('a', { class: 'btn', id: 'csv', href: `/api/stats${query({ ...q, format: 'csv' })}`, download: `hotline-${from}-${to}.csv` }, 'Выгрузить CSV')),
    form, result);
  if (from > to) {
    mount(result, errorBox('Начало периода позже его конца. Исправьте даты.'));
    return null;
  }
  let alive = true;
  api('GET', `/api/stats${query(q)}`).then((data) => {
    if (!alive) return;
    setZone(data.zone);
    mount(result, ...report(data));
  }).catch((e) => alive && mount(result, errorBox(e.message)));
  return () => { alive = false; };
}

function report(data) {
  const t = data.total || {};
  const days = data.days || [];
  const labels = days.map((d) => day(d.date));
  const tiles = h('div', { class: 'tiles', id: 'stats-total' },
    tile('Звонков', t.calls), tile('Отвечено', t.answered), tile('Не дождались', t.abandoned),
    tile('Нерабочее время', t.after_hours), tile('Превышено ожидание', t.overflow),
    tile('Нет операторов', t.no_operators),
    // A soft hyphen, so the long word breaks in a narrow tile.
    tile('Само\u00adобслуживание', percent(t.self_service_share), `звонков: ${t.self_service ?? 0}`, 'tile-self-service'),
    tile('Показаний принято', (t.readings_phone ?? 0) + (t.readings_operator ?? 0),
      `телефон ${t.readings_phone ?? 0}, оператор ${t.readings_operator ?? 0}`, 'tile-readings'),
    tile('Уровень обслуживания', percent(t.service_level), 'ответ в течение 20 с'),
    tile('Ожидание, среднее', duration(t.wait_ms_avg)), tile('Ожидание, 90 %', duration(t.wait_ms_p90)),
    tile('Разговор, средний', duration(t.talk_ms_avg)));
  if (!days.length) return [tiles, h('p', { class: 'empty' }, 'За этот период звонков не было.')];
  const series = (key, name) => ({ name, color: COLORS[key], values: days.map((d) => d[key] ?? 0) });
  return [
    tiles,
    h('section', { class: 'card' }, h('h2', {}, 'Звонки по дням'),
      barChart({ id: 'chart-calls', categories: labels, series: [series('calls', 'Всего'), series('answered', 'Отвечено'), series('abandoned', 'Не дождались'), series('after_hours', 'Нерабочее время'), series('self_service', 'Самообслуживание')] })),
    h('div', { class: 'two' },
      h('section', { class: 'card' }, h('h2', {}, 'Уровень обслуживания'),
        barChart({ categories: labels, max: 1, format: percent, width: 520, height: 200, series: [{ name: 'Уровень обслуживания', color: COLORS.sl, values: days.map((d) => d.service_level) }] })),
      h('section', { class: 'card' }, h('h2', {}, 'Среднее ожидание'),
        barChart({ categories: labels, format: duration, steps: MS_STEPS, width: 520, height: 200, series: [{ name: 'Среднее ожидание', color: COLORS.wait, values: days.map((d) => d.wait_ms_avg) }] }))),
    h('section', { class: 'card' }, h('h2', {}, 'По дням'),
      table(['День', 'Звонков', 'Отвечено', 'Не дождались', 'Нерабочее', 'Превышено', 'Нет операторов', 'Отклонено', 'Самообсл.', 'Ожидание ср.', 'Ожидание 90 %', 'Уровень', 'Разговор ср.'],
        days.map((d) => h('tr', {},
          h('td', {}, day(d.date, true)), num(d.calls), num(d.answered), num(d.abandoned), num(d.after_hours),
          num(d.overflow), num(d.no_operators), num(d.rejected), num(d.self_service), num(duration(d.wait_ms_avg)), num(duration(d.wait_ms_p90)),
          num(percent(d.service_level)), num(duration(d.talk_ms_avg)))), { class: 'days', id: 'stats-days' })),
    readings(days, labels, series),
    h('div', { class: 'two' },
      h('section', { class: 'card' }, h('h2', {}, 'Операторы'), operators(data.operators || [])),
      h('section', { class: 'card' }, h('h2', {}, 'Темы обращений'), topics(data.topics || []))),
  ];
}

// Meter readings handed in per day, keyed in by callers or entered by operators.
function readings(days, labels, series) {
  const total = days.reduce((n, d) => n + (d.readings_phone ?? 0) + (d.readings_operator ?? 0), 0);
  return h('section', { class: 'card', id: 'stats-readings' }, h('h2', {}, 'Показания счётчиков по дням'),
    total === 0 ? h('p', { class: 'empty' }, 'За этот период показаний не принимали.') : [
      barChart({ id: 'chart-readings', categories: labels, height: 200, series: [series('readings_phone', 'По телефону'), series('readings_operator', 'Операторами')] }),
      table(['День', 'По телефону', 'Операторами', 'Всего', 'Самообслуживание'], days.map((d) => h('tr', {},
        h('td', {}, day(d.date, true)), num(d.readings_phone), num(d.readings_operator),
        num((d.readings_phone ?? 0) + (d.readings_operator ?? 0)), num(percent(d.self_service_share)))),
      { class: 'days', id: 'stats-readings-days' }),
    ]);
}

function operators(list) {
  if (!list.length) return h('p', { class: 'empty' }, 'Отвеченных звонков нет.');
  const sorted = [...list].sort((a, b) => b.answered - a.answered);
  return h('div', {},
    hbars(sorted.map((o) => ({ label: o.operator_id, value: o.answered, text: String(o.answered) })), COLORS.answered),
    table(['Оператор', 'Отвечено', 'Разговор ср.', 'Разговор всего'], sorted.map((o) => h('tr', {},
      h('td', {}, o.operator_id), num(o.answered), num(duration(o.talk_ms_avg)), num(duration(o.talk_ms_total)))), { class: 'compact' }));
}

function topics(list) {
  if (!list.length) return h('p', { class: 'empty' }, 'Темы не указаны.');
  const sorted = [...list].sort((a, b) => b.calls - a.calls);
  return hbars(sorted.map((t) => ({ label: t.topic ? label(TOPICS, t.topic) : 'не указана', value: t.calls })), COLORS.sl);
}

function num(v) {
  return h('td', { class: 'num' }, v === null || v === undefined ? '—' : String(v));
}

function tile(title, value, hint, id) {
  return h('div', { class: 'tile', id }, h('div', { class: 'tile-title' }, title),
    h('div', { class: 'tile-value' }, value === null || value === undefined ? '—' : String(value)),
    hint ? h('div', { class: 'tile-hint' }, hint) : null);
}
