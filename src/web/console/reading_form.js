// Entering a meter reading an operator took (POST /api/readings, source `operator`): the
// account, one of its meters (from GET /api/subscribers/{account}, with the last reading
// billing knows), the value and, when taken during a call, that call. Used on the readings
// page and on a call's page, where the call is fixed.

import { api } from './api.js';
import { h, mount, errorBox } from './dom.js';
import { METER_KINDS, label } from './format.js';

/**
 * The form. `account`: prefilled; `callId`: the call the reading is tied to (no call field
 * then); `onSaved(reading)`: after the server stored it.
 */
export function readingForm({ account = '', callId = null, onSaved }) {
  const status = h('div', { class: 'status', role: 'status', id: 'reading-status' });
  const accountInput = h('input', {
    id: 'reading-account', name: 'account', value: account, inputmode: 'numeric',
    autocomplete: 'off', size: 14, required: true,
  });
  const meter = h('select', { id: 'reading-meter', name: 'meter', required: true, disabled: true },
    h('option', { value: '' }, 'сначала укажите счёт'));
  const value = h('input', { id: 'reading-value', name: 'value', type: 'number', min: 0, step: 1, required: true });
  const call = callId ? null : h('input', {
    id: 'reading-call', name: 'call_id', size: 28, placeholder: 'необязательно', autocomplete: 'off',
  });
  const save = h('button', { type: 'submit', class: 'primary', id: 'reading-save' }, 'Сохранить показание');
  let meters = [];
  let looked = null;

  // The account's meters, asked once per account typed (a change, not every key).
  async function lookUp() {
    const wanted = accountInput.value.trim();
    if (wanted === looked) return;
    looked = wanted;
    meters = [];
    meter.disabled = true;
    mount(meter, h('option', { value: '' }, wanted ? 'загрузка…' : 'сначала укажите счёт'));
    if (!wanted) return;
    try {
      const data = await api('GET', `/api/subscribers/${encodeURIComponent(wanted)}`);
      if (accountInput.value.trim() !== wanted) return;
      meters = data.meters || [];
      mount(meter, meters.map((m) => h('option', { value: m.meter },
        `${m.meter} — ${label(METER_KINDS, m.kind)}, последнее ${m.last_reading}`)));
      meter.disabled = false;
      mount(status);
    } catch (e) {
      mount(meter, h('option', { value: '' }, 'нет счётчиков'));
      mount(status, errorBox(e.status === 404
        ? `Лицевой счёт ${wanted} не найден в выгрузке биллинга.`
        : e.message));
    }
  }
  // On a change (leaving the field, Enter), and after a pause in typing.
  let pause = null;
  accountInput.addEventListener('change', lookUp);
  accountInput.addEventListener('input', () => {
    clearTimeout(pause);
    pause = setTimeout(lookUp, 500);
  });

  const form = h('form', { class: 'filters reading-form', id: 'reading-form', onsubmit: async (e) => {
    e.preventDefault();
    await lookUp();
    const chosen = meters.find((m) => m.meter === meter.value);
    const number = Number(value.value);
    if (!chosen) {
      mount(status, errorBox('Выберите счётчик лицевого счёта.'));
      return;
    }
    if (value.value === '' || !Number.isInteger(number) || number < 0) {
      mount(status, errorBox('Показание — целое число кубометров, 0 или больше.'));
      return;
    }
    if (number < chosen.last_reading) {
      mount(status, errorBox(`Показание меньше последнего известного (${chosen.last_reading}). Проверьте цифры.`));
      return;
    }
    const body = { account: accountInput.value.trim(), meter: chosen.meter, value: number };
    const tied = callId || (call && call.value.trim());
    if (tied) body.call_id = tied;
    save.disabled = true;
    mount(status, 'Сохранение…');
    try {
      const reading = await api('POST', '/api/readings', body);
      value.value = '';
      mount(status, h('span', { class: 'ok' }, `Показание ${reading.value} по счётчику ${reading.meter} сохранено`));
      if (onSaved) onSaved(reading);
    } catch (err) {
      mount(status, errorBox(err.status === 404 && body.call_id
        ? 'Звонок или счётчик не найден: проверьте идентификатор звонка.'
        : err.message));
    } finally {
      save.disabled = false;
    }
  } },
  field('Лицевой счёт', accountInput),
  field('Счётчик', meter),
  field('Показание, м³', value),
  call ? field('Звонок', call) : null,
  h('div', { class: 'actions' }, save),
  status);
  if (account) lookUp();
  return form;
}

function field(text, control) {
  return h('label', { class: 'field' }, h('span', {}, text), control);
}
