// One call: what the register says about it, its timeline (with holds and resumes) and ring
// attempts, the topic QA assigns (PUT /api/calls/{id}/topic), the meter readings handed in
// during it (and a form to enter one), and the recording with its player, whose level view
// shades the holds.

import { api } from './api.js';
import { h, mount, errorBox, table } from './dom.js';
import {
  EVENTS, HANGUP_BY, OUTCOMES, RING_RESULTS, TOPICS, dateTime, duration, label, size, time,
} from './format.js';
import { createPlayer } from './player.js';
import { renderGrading } from './grading.js';
import { audioSection } from './audio.js';
import { legalHoldControl, retentionNotes } from './retention.js';
import { callReadings } from './call_readings.js';

export function renderCall(root, { id, user }) {
  let alive = true;
  let player = null;
  mount(root, h('p', { class: 'muted' }, 'Загрузка…'));
  const reload = () => {
    if (player) player.stop();
    player = null;
    load();
  };
  const load = () => api('GET', `/api/calls/${encodeURIComponent(id || '')}`).then((call) => {
    if (!alive) return;
    mount(root, ...page(call, user, reload));
    if (call.recording_url) {
      player = createPlayer(call);
      root.querySelector('#recording').append(player.element);
    }
    const quality = h('section', { class: 'card', id: 'quality' });
    root.append(quality);
    renderGrading(quality, call, player, user);
  }).catch((e) => alive && mount(root, h('h1', {}, 'Звонок'), errorBox(e.message), back()));
  load();
  return () => {
    alive = false;
    if (player) player.stop();
  };
}

function back() {
  // Back to the list as it was left (filters and page), not to an empty search.
  const list = sessionStorage.getItem('hotline.calls') || '#/calls';
  return h('p', {}, h('a', { href: list.startsWith('#/calls') ? list : '#/calls', id: 'back' }, '← К списку звонков'));
}

// "Иванова (101)" when the operator has a name in the configuration, else the id.
function operatorLabel(call) {
  if (!call.operator_id) return '—';
  return call.operator_name ? `${call.operator_name} (${call.operator_id})` : call.operator_id;
}

function page(call, user, reload) {
  const facts = [
    ['Номер абонента', call.caller || 'скрыт'],
    ['Направление', call.direction === 'outbound' ? 'перезвон (линия звонила абоненту)' : 'входящий'],
    ['Набранный номер', call.dialed],
    ['Поступил', dateTime(call.received_at)],
    ['Итог', h('span', { class: `badge ${call.outcome}`, id: 'call-outcome' }, label(OUTCOMES, call.outcome))],
    ['Оператор', operatorLabel(call)],
    ['Ожидание', duration(call.wait_ms)],
    ['Разговор', duration(call.talk_ms)],
    ['Кто завершил', label(HANGUP_BY, call.hangup_by)],
    ['Код завершения', call.final_status ? String(call.final_status) : '—'],
    ['Причина', call.end_reason || '—'],
    ['Предупреждение о записи', call.notice_played_at ? (call.notice_completed ? 'прослушано полностью' : 'прервано') : 'не звучало'],
    ['Идентификатор', h('code', {}, call.id)],
  ];
  return [
    back(),
    h('h1', {}, 'Звонок ', h('span', { class: 'num' }, call.caller || ''), ' · ', dateTime(call.received_at)),
    h('div', { class: 'call-grid' },
      h('section', { class: 'card' },
        h('h2', {}, 'Сведения'),
        h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
        topicPicker(call)),
      h('section', { class: 'card' },
        h('h2', {}, 'Ход звонка'),
        timeline(call.timeline || []),
        h('h2', {}, 'Вызовы операторов'),
        rings(call.rings || []))),
    callReadings(call),
    h('section', { class: 'card', id: 'recording' },
      h('h2', {}, 'Запись разговора'),
      retentionNotes(call),
      legalHoldControl(call, user, reload),
      call.recording_purged_at ? null : call.recording_url
        ? h('p', { class: 'muted' }, `Длительность ${duration(call.recording_ms)}, ${size(call.recording_bytes)}. Слева — абонент, справа — оператор.`)
        : h('p', { class: 'muted' }, call.recording_error ? `Записи нет: ${call.recording_error}` : 'Записи нет: разговор с оператором не состоялся.')),
    audioSection(call),
  ];
}

function topicPicker(call) {
  const status = h('span', { class: 'status', role: 'status' });
  const select = h('select', { id: 'topic', onchange: async () => {
    select.disabled = true;
    mount(status, 'Сохранение…');
    try {
      await api('PUT', `/api/calls/${encodeURIComponent(call.id)}/topic`, { topic: select.value || null });
      call.topic = select.value || null;
      mount(status, h('span', { class: 'ok' }, 'Сохранено'));
    } catch (e) {
      select.value = call.topic || '';
      mount(status, errorBox(e.message));
    } finally {
      select.disabled = false;
    }
  } },
  h('option', { value: '' }, 'не указана'),
  Object.entries(TOPICS).map(([v, t]) => h('option', { value: v, selected: v === call.topic }, t)));
  return h('div', { class: 'topic' }, h('label', { for: 'topic' }, 'Тема обращения'), select, status);
}

function timeline(events) {
  if (!events.length) return h('p', { class: 'muted' }, 'Нет событий.');
  return h('ol', { class: 'timeline', id: 'timeline' }, events.map((e) => h('li', { class: e.event },
    h('time', { datetime: e.at }, time(e.at)), ' ', label(EVENTS, e.event),
    e.detail ? h('span', { class: 'muted' }, ` (${e.detail})`) : null)));
}

function rings(list) {
  if (!list.length) return h('p', { class: 'muted' }, 'Операторов не вызывали.');
  return table(['Оператор', 'Начало', 'Конец', 'Длилось', 'Результат'], list.map((r) => h('tr', {},
    h('td', {}, r.operator_id),
    h('td', {}, time(r.started_at)),
    h('td', {}, time(r.ended_at)),
    h('td', { class: 'num' }, duration(new Date(r.ended_at) - new Date(r.started_at))),
    h('td', {}, label(RING_RESULTS, r.result)))), { class: 'rings' });
}
