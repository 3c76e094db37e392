// The missed-calls worklist: every abandoned, overflowed, after-hours or no-operator call,
// merged per number (first and last call, longest wait, calls today), with its state and
// who worked it. "Call back" asks the server to ring the chosen operator first and then the
// citizen through the provider; the other buttons record how the item was worked.

import { api } from './api.js';
import { h, mount, errorBox, table } from './dom.js';
import { dateTime, duration } from './format.js';

export const WORKLIST_STATES = {
  new: 'новый',
  in_progress: 'в работе',
  called_back: 'перезвонили',
  unreachable: 'не дозвонились',
  closed: 'закрыт',
};

export function renderWorklist(root) {
  const filter = h('select', { id: 'worklist-state', name: 'state' },
    h('option', { value: '' }, 'все'),
    Object.entries(WORKLIST_STATES).map(([code, text]) => h('option', { value: code }, text)));
  const operator = h('input', { id: 'worklist-operator', name: 'operator', size: 6, placeholder: '101' });
  const message = h('div', { class: 'message', role: 'status' });
  const list = h('div', { id: 'worklist-items' }, h('p', { class: 'muted' }, 'Загрузка…'));
  mount(root,
    h('div', { class: 'title-row' }, h('h1', {}, 'Пропущенные звонки')),
    h('div', { class: 'filters' },
      h('label', {}, 'Состояние ', filter),
      h('label', {}, 'Оператор для перезвона ', operator)),
    message,
    h('section', { class: 'card' }, list));
  filter.addEventListener('change', load);

  async function act(item, body, path) {
    mount(message);
    try {
      if (path) {
        // 202: the operator's phone rings now; the item shows the result when the call ends.
        const started = await api('POST', path, body);
        mount(message, h('p', {}, `Перезвон начат: звонит телефон оператора ${body.operator}, затем номер ${item.number} (звонок ${started.call_id}).`));
      } else {
        await api('PATCH', `/api/worklist/${item.id}`, body);
      }
      await load();
    } catch (e) {
      mount(message, errorBox(e.message));
    }
  }

  function row(item) {
    const buttons = [
      h('button', {
        type: 'button', class: 'btn', 'data-action': 'callback',
        onclick: () => act(item, { operator: operator.value.trim() }, `/api/worklist/${item.id}/callback`),
      }, 'Перезвонить'),
      h('button', { type: 'button', class: 'btn', 'data-action': 'called_back', onclick: () => act(item, { state: 'called_back' }) }, 'Перезвонили'),
      h('button', { type: 'button', class: 'btn', 'data-action': 'unreachable', onclick: () => act(item, { state: 'unreachable' }) }, 'Не дозвонились'),
      h('button', { type: 'button', class: 'btn', 'data-action': 'closed', onclick: () => act(item, { state: 'closed' }) }, 'Закрыть'),
    ];
    return h('tr', { 'data-id': String(item.id), 'data-state': item.state },
      h('td', { class: 'num' }, item.number),
      h('td', {}, dateTime(item.first_at)),
      h('td', {}, dateTime(item.last_at)),
      h('td', {}, duration(item.waited_ms)),
      h('td', {}, String(item.missed_calls)),
      h('td', {}, String(item.calls_today)),
      h('td', { class: 'item-state' }, WORKLIST_STATES[item.state] || item.state),
      h('td', {}, item.worked_by || '—'),
      h('td', {}, buttons));
  }

  async function load() {
    try {
      const q = filter.value ? `?state=${encodeURIComponent(filter.value)}` : '';
      const data = await api('GET', `/api/worklist${q}`);
      mount(list, data.items.length
        ? table(['Номер', 'Первый звонок', 'Последний', 'Ждал', 'Пропущено', 'Звонков сегодня', 'Состояние', 'Кто работал', ''],
          data.items.map(row), { id: 'worklist-table' })
        : h('p', { class: 'muted' }, 'Пропущенных звонков нет.'));
    } catch (e) {
      mount(list, errorBox(e.message));
    }
  }

  load();
  const timer = setInterval(load, 30000);
  return () => clearInterval(timer);
}
