// The call list: filters (period, number, operator, outcome, direction, topic, minimum
// talk) kept in
// the address, so a search can be bookmarked or sent to a colleague; newest first, paged.

import { api, query } from './api.js';
import { h, mount, errorBox, table } from './dom.js';
import { OUTCOMES, TOPICS, addDays, dateTime, duration, label } from './format.js';

const PAGE = 50;

// Who placed the call: a caller, or the line calling a missed caller back.
const DIRECTIONS = { inbound: 'входящие', outbound: 'перезвоны' };

export function renderCalls(root, { params, navigate }) {
  const f = {
    from: params.get('from') || '',
    to: params.get('to') || '',
    caller: params.get('caller') || '',
    operator: params.get('operator') || '',
    outcome: params.get('outcome') || '',
    direction: params.get('direction') || '',
    topic: params.get('topic') || '',
    min_talk: params.get('min_talk') || '',
  };
  sessionStorage.setItem('hotline.calls', location.hash || '#/calls');
  const offset = Math.max(0, Number.parseInt(params.get('offset') || '0', 10) || 0);

  const input = (name, attrs) => h('input', { id: `f-${name}`, name, value: f[name], ...attrs });
  const select = (name, options, any) => h('select', { id: `f-${name}`, name },
    h('option', { value: '' }, any),
    Object.entries(options).map(([v, t]) => h('option', { value: v, selected: v === f[name] }, t)));

  const form = h('form', { class: 'filters', onsubmit: (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    data.caller = (data.caller || '').replace(/\D/g, '');
    navigate('calls', data);
  } },
  field('С', input('from', { type: 'date' })),
  field('По', input('to', { type: 'date' })),
  field('Номер', input('caller', { inputmode: 'numeric', placeholder: 'цифры номера', size: 12 })),
  field('Оператор', input('operator', { placeholder: 'например, 101', size: 8 })),
  field('Итог', select('outcome', OUTCOMES, 'любой')),
  field('Направление', select('direction', DIRECTIONS, 'все')),
  field('Тема', select('topic', TOPICS, 'любая')),
  field('Разговор от, с', input('min_talk', { type: 'number', min: 0, step: 1, size: 5 })),
  h('div', { class: 'actions' },
    h('button', { type: 'submit', class: 'primary' }, 'Найти'),
    h('a', { href: '#/calls', class: 'btn' }, 'Сбросить')));

  const result = h('div', { class: 'result' }, h('p', { class: 'muted' }, 'Загрузка…'));
  mount(root, h('h1', {}, 'Звонки'), form, result);

  const q = {
    from: f.from,
    // The page asks "up to and including" a day; the API's `to` is exclusive.
    to: f.to ? addDays(f.to, 1) : '',
    caller: f.caller,
    operator: f.operator,
    outcome: f.outcome,
    direction: f.direction,
    topic: f.topic,
    min_duration_ms: f.min_talk !== '' && Number(f.min_talk) > 0 ? Math.round(Number(f.min_talk) * 1000) : '',
    limit: PAGE,
    offset,
  };
  let alive = true;
  api('GET', `/api/calls${query(q)}`).then((data) => {
    if (!alive) return;
    mount(result, list(data, offset, (o) => navigate('calls', { ...f, offset: o || '' })));
  }).catch((e) => alive && mount(result, errorBox(e.message)));
  return () => { alive = false; };
}

function field(text, control) {
  return h('label', { class: 'field' }, h('span', {}, text), control);
}

function list(data, offset, go) {
  const calls = (data && data.calls) || [];
  const total = (data && data.total) || 0;
  if (!calls.length) return h('p', { class: 'empty' }, 'Звонков по этим условиям не найдено.');
  const rows = calls.map((c) => h('tr', { class: `outcome-${c.outcome}` },
    h('td', {}, h('a', { href: `#/call/${encodeURIComponent(c.id)}`, class: 'call-link' }, dateTime(c.received_at))),
    h('td', { class: 'num' }, c.caller || 'скрыт',
      c.direction === 'outbound' ? h('span', { class: 'direction-out', title: 'Перезвон: линия звонила абоненту' }, ' ↗') : ''),
    h('td', {}, c.operator_name ? `${c.operator_name} (${c.operator_id})` : (c.operator_id || '—')),
    h('td', {}, h('span', { class: `badge ${c.outcome}` }, label(OUTCOMES, c.outcome))),
    h('td', { class: 'num' }, duration(c.wait_ms)),
    h('td', { class: 'num' }, duration(c.talk_ms)),
    h('td', {}, label(TOPICS, c.topic)),
    h('td', {}, c.recording_url ? h('span', { class: 'rec', title: 'Есть запись разговора' }, '●') : '')));
  const last = Math.min(offset + calls.length, total);
  return h('div', {},
    table(['Время', 'Номер', 'Оператор', 'Итог', 'Ожидание', 'Разговор', 'Тема', 'Запись'], rows, { class: 'calls', id: 'calls-table' }),
    h('div', { class: 'pager' },
      h('button', { type: 'button', disabled: offset === 0, onclick: () => go(Math.max(0, offset - PAGE)) }, '← Новее'),
      h('span', { id: 'calls-range' }, `${offset + 1}–${last} из ${total}`),
      h('button', { type: 'button', disabled: last >= total, onclick: () => go(offset + PAGE) }, 'Старее →')));
}
