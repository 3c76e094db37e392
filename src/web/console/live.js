// The live board (supervisors): callers waiting and for how long, call-backs in progress
// (the stage and for how long), each operator's state with pause and resume, and today's
// service level. The board follows /api/live (server-sent
// events, a full snapshot on every change); wait times count on between snapshots.

import { api, query } from './api.js';
import { h, mount, errorBox, table } from './dom.js';
import { OPERATOR_STATES, TOPICS, addDays, duration, label, percent, setZone, time, today } from './format.js';

export function renderLive(root) {
  const status = h('p', { class: 'live-status', id: 'live-status', role: 'status' }, 'Подключение…');
  const summary = h('div', { class: 'tiles', id: 'live-summary' });
  const waiting = h('div', { id: 'live-waiting' });
  const callbacks = h('div', { id: 'live-callbacks' });
  const operators = h('div', { id: 'live-operators' });
  const service = h('div', { class: 'tiles', id: 'live-today' }, h('p', { class: 'muted' }, 'Загрузка…'));
  const message = h('div', { class: 'message' });
  const dialog = pauseDialog(message);
  mount(root,
    h('div', { class: 'title-row' }, h('h1', {}, 'Сейчас на линии'), status),
    message,
    summary,
    h('div', { class: 'live-grid' },
      h('section', { class: 'card' }, h('h2', {}, 'Операторы'), operators),
      h('section', { class: 'card' }, h('h2', {}, 'Ожидают ответа'), waiting)),
    h('section', { class: 'card' }, h('h2', {}, 'Перезвоны'), callbacks),
    h('section', { class: 'card' }, h('h2', {}, 'Сегодня'), service),
    dialog.element);

  let snap = null;
  let snapAt = 0;
  const source = new EventSource('/api/live');
  source.addEventListener('snapshot', (e) => {
    try {
      snap = JSON.parse(e.data);
    } catch {
      return;
    }
    snapAt = performance.now();
    status.textContent = 'Обновляется автоматически';
    status.className = 'live-status ok';
    draw();
  });
  source.addEventListener('error', () => {
    status.textContent = 'Нет связи с сервером, переподключение…';
    status.className = 'live-status bad';
    // The stream cannot say why it failed; a failed /api/me brings the login back if the session ended.
    api('GET', '/api/me').catch(() => {});
  });

  function draw() {
    if (!snap) return;
    const since = performance.now() - snapAt;
    const longest = snap.waiting.length ? snap.longest_wait_ms + since : 0;
    mount(summary,
      tile('Ожидают', String(snap.waiting.length), snap.waiting.length ? 'warn' : ''),
      tile('Дольше всех ждёт', snap.waiting.length ? duration(longest) : '—', longest > 60000 ? 'bad' : '', 'longest-wait'),
      tile('Звонков сейчас', String(snap.active_calls)),
      tile('Свободно операторов', String(snap.operators.filter((o) => o.state === 'available').length)),
      snap.provider ? providerTile(snap.provider) : null);
    mount(waiting, snap.waiting.length
      ? table(['№', 'Номер', 'Тема', 'Ждёт', 'Вызывается'], snap.waiting.map((w) => h('tr', {},
        h('td', {}, String(w.position)),
        h('td', { class: 'num' }, w.caller || 'скрыт'),
        h('td', {}, w.topic ? label(TOPICS, w.topic) : '—'),
        h('td', { class: 'num' }, duration(w.waited_ms + since)),
        h('td', {}, w.ringing || '—'))), { class: 'waiting' })
      : h('p', { class: 'empty' }, 'Очередь пуста.'));
    const calling = snap.callbacks || [];
    mount(callbacks, calling.length
      ? table(['Номер', 'Оператор', 'Этап', 'Длится', 'Тема', 'Звонок'], calling.map((c) => h('tr', { dataset: { call: c.call_id } },
        h('td', { class: 'num' }, c.number || 'скрыт',
          h('div', { class: 'muted small' }, h('a', { href: '#/worklist' }, `исходящий · пропущенные, запись №${c.item}`))),
        h('td', {}, c.operator),
        h('td', {}, h('span', { class: `state ${c.stage === 'talking' ? 'talking' : 'ringing'}` }, label(CALLBACK_STAGES, c.stage))),
        h('td', { class: 'num', title: `с ${time(c.since)}` }, duration(c.stage_ms + since)),
        h('td', {}, c.topic ? label(TOPICS, c.topic) : '—'),
        h('td', {}, h('a', { href: `#/call/${encodeURIComponent(c.call_id)}` }, 'открыть')))), { class: 'callbacks', id: 'callbacks-table' })
      : h('p', { class: 'empty' }, 'Перезвонов сейчас нет.'));
    const onCallBack = new Set(calling.map((c) => c.operator));
    mount(operators, snap.operators.length
      ? table(['Оператор', 'Состояние', 'Звонок', 'Телефон', ''], snap.operators.map((o) => h('tr', { dataset: { operator: o.id } },
        h('td', {}, h('b', {}, o.id), ' ', h('span', { class: 'muted' }, o.name && o.name !== o.id ? o.name : ''),
          o.skills && o.skills.length ? h('div', { class: 'muted small skills' }, o.skills.map((s) => label(TOPICS, s)).join(', ')) : ''),
        h('td', {}, h('span', { class: `state ${o.state}` }, label(OPERATOR_STATES, o.state)),
          o.pause_reason ? h('span', { class: 'muted small' }, ` (${reasonText(o.pause_reason)})`) : '',
          onCallBack.has(o.id) ? h('span', { class: 'muted small' }, ' (перезвон)') : ''),
        h('td', {}, o.call_id ? h('a', { href: `#/call/${encodeURIComponent(o.call_id)}` }, 'открыть') : '—'),
        h('td', {}, o.registered ? 'подключён' : h('span', { class: 'muted' }, 'не подключён')),
        h('td', { class: 'right' }, action(o)))), { class: 'operators', id: 'operators-table' })
      : h('p', { class: 'empty' }, 'Операторы не настроены.'));
  }

  function action(o) {
    if (o.state === 'paused') {
      return h('button', { type: 'button', class: 'small', onclick: (e) => command(e.target, `/api/operators/${encodeURIComponent(o.id)}/resume`) }, 'Снять паузу');
    }
    if (o.state === 'offline') return '';
    return h('button', { type: 'button', class: 'small', onclick: () => dialog.open(o) }, 'Пауза');
  }

  async function command(button, path, body) {
    button.disabled = true;
    mount(message);
    try {
      await api('POST', path, body);
    } catch (e) {
      mount(message, errorBox(e.message));
    } finally {
      button.disabled = false;
    }
  }

  const ticker = setInterval(draw, 1000);
  let alive = true;
  const loadToday = () => {
    const from = today();
    api('GET', `/api/stats${query({ from, to: addDays(from, 1) })}`).then((s) => {
      if (!alive) return;
      setZone(s.zone);
      const t = s.total || {};
      mount(service,
        tile('Уровень обслуживания', percent(t.service_level), slClass(t.service_level), 'service-level'),
        tile('Звонков', String(t.calls ?? 0)),
        tile('Отвечено', String(t.answered ?? 0)),
        tile('Не дождались', String(t.abandoned ?? 0), t.abandoned ? 'warn' : ''),
        tile('Среднее ожидание', duration(t.wait_ms_avg)),
        tile('Нерабочее время', String(t.after_hours ?? 0)));
    }).catch((e) => alive && mount(service, errorBox(e.message)));
  };
  loadToday();
  const todayTimer = setInterval(loadToday, 60000);

  return () => {
    alive = false;
    source.close();
    clearInterval(ticker);
    clearInterval(todayTimer);
  };
}

function reasonText(reason) {
  return reason === 'no_answer' ? 'не ответил на вызов' : reason;
}

function slClass(sl) {
  if (sl === null || sl === undefined) return '';
  return sl >= 0.8 ? 'good' : sl >= 0.6 ? 'warn' : 'bad';
}

const CALLBACK_STAGES = {
  ringing_operator: 'Перезвон: вызов оператора',
  ringing_citizen: 'Перезвон: вызов абонента',
  talking: 'Перезвон: разговор',
};

const PROVIDER_STATES = {
  registering: 'регистрация…', registered: 'зарегистрирован', failing: 'ошибка регистрации',
  unregistering: 'отключение…', unregistered: 'отключён',
};

/** The provider link: registered or failing since when, the last error, the OPTIONS round trip. */
function providerTile(p) {
  const ok = p.state === 'registered';
  const ping = p.options && p.options.rtt_seconds != null ? ` · ${Math.round(p.options.rtt_seconds * 1000)} мс` : '';
  const title = `с ${p.since}${p.last_error ? ` · ${p.last_error}` : ''}`;
  const t = tile('Провайдер', `${PROVIDER_STATES[p.state] || p.state}${ping}`, ok ? '' : 'bad', 'provider-state');
  t.setAttribute('title', title);
  return t;
}

function tile(title, value, cls = '', id = null) {
  return h('div', { class: `tile ${cls}` }, h('div', { class: 'tile-title' }, title), h('div', { class: 'tile-value', id }, value));
}

/** The "why" prompt before a pause (kept in the audit log with the supervisor's name). */
function pauseDialog(message) {
  const reason = h('input', { id: 'pause-reason', name: 'reason', required: true, maxlength: 200, placeholder: 'например, обучение' });
  const who = h('b');
  const error = h('div');
  let operator = null;
  const form = h('form', { method: 'dialog', onsubmit: async (e) => {
    e.preventDefault();
    const text = reason.value.trim();
    if (!text) return;
    try {
      await api('POST', `/api/operators/${encodeURIComponent(operator.id)}/pause`, { reason: text });
      element.close();
      mount(message);
    } catch (err) {
      mount(error, errorBox(err.message));
    }
  } },
  h('h2', {}, 'Пауза для оператора ', who),
  h('label', { for: 'pause-reason' }, 'Причина'), reason, error,
  h('div', { class: 'actions' },
    h('button', { type: 'button', onclick: () => element.close() }, 'Отмена'),
    h('button', { type: 'submit', class: 'primary', id: 'pause-confirm' }, 'Поставить на паузу')));
  const element = h('dialog', { id: 'pause-dialog' }, form);
  return {
    element,
    open(o) {
      operator = o;
      who.textContent = o.id;
      reason.value = '';
      mount(error);
      element.showModal();
      reason.focus();
    },
  };
}
