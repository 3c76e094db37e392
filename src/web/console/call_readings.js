// Meter readings on a call's page: those handed in during the call (keyed in by the caller
// or entered by the operator), and the form to enter one now, tied to this call.

import { h, mount, table } from './dom.js';
import { READING_SOURCES, label, time } from './format.js';
import { readingForm } from './reading_form.js';

export function callReadings(call) {
  const readings = [...(call.readings || [])];
  const list = h('div', {});
  const draw = () => mount(list, readings.length
    ? table(['Лицевой счёт', 'Счётчик', 'Показание', 'Предыдущее', 'Время', 'Источник'], readings.map((r) => h('tr', {},
      h('td', {}, r.account),
      h('td', {}, r.meter),
      h('td', { class: 'num' }, String(r.value)),
      h('td', { class: 'num' }, String(r.previous)),
      h('td', {}, time(r.at)),
      h('td', {}, label(READING_SOURCES, r.source)))), { class: 'readings compact', id: 'call-readings-table' })
    : h('p', { class: 'muted' }, 'В этом звонке показаний не передавали.'));
  draw();
  // The account the caller gave by phone, if any, saves typing it again.
  const account = readings.length ? readings[readings.length - 1].account : '';
  const form = readingForm({
    account,
    callId: call.id,
    onSaved: (reading) => {
      readings.push(reading);
      draw();
    },
  });
  return h('section', { class: 'card', id: 'call-readings' },
    h('h2', {}, 'Показания счётчиков'), list,
    h('h2', {}, 'Принять показание в этом звонке'), form);
}
