// The QA pages: the "to grade" list and open disputes (#/grade), evaluation forms as JSON
// (#/forms), the quality report with CSV and calibration (#/quality), and the operator's
// own evaluations (#/mine).

import { api, query } from './api.js';
import { h, mount, errorBox, table } from './dom.js';
import { dateTime, duration } from './format.js';
import { evaluationCard } from './grading.js';

const RULES = {
  flagged: 'отмечен', long_call: 'долгий разговор', first_calls: 'первые звонки оператора', random_weekly: 'случайная выборка',
};

export function renderQueue(root) {
  const list = h('div', { id: 'queue' });
  const status = h('span', { class: 'status', role: 'status' });
  const load = async () => {
    try {
      const v = await api('GET', '/api/grading/queue');
      mount(list,
        v.queue.length ? table(['Звонок', 'Оператор', 'Поступил', 'Разговор', 'Правило', 'Кому'], v.queue.map((e) => h('tr', {},
          h('td', {}, h('a', { href: `#/call/${encodeURIComponent(e.call_id)}` }, e.call_id)),
          h('td', {}, e.operator_name || e.operator_id || '—'),
          h('td', {}, dateTime(e.received_at)),
          h('td', { class: 'num' }, duration(e.talk_ms)),
          h('td', {}, RULES[e.rule] || e.rule),
          h('td', {}, e.assigned_to || '—')))) : h('p', { class: 'muted' }, 'Оценивать нечего.'),
        h('h2', {}, 'Споры операторов'),
        v.disputes.length ? v.disputes.map((e) => h('div', {},
          h('a', { href: `#/call/${encodeURIComponent(e.call_id)}` }, e.call_id),
          evaluationCard(e, { role: 'qa' }, load))) : h('p', { class: 'muted' }, 'Споров нет.'));
    } catch (e) { mount(list, errorBox(e.message)); }
  };
  mount(root, h('h1', {}, 'Оценить'),
    h('p', {}, h('button', { type: 'button', id: 'run-sampling', onclick: async () => {
      try {
        const r = await api('POST', '/api/grading/sample', {});
        mount(status, `Добавлено звонков: ${r.added}`);
        load();
      } catch (e) { mount(status, errorBox(e.message)); }
    } }, 'Выбрать звонки сейчас'), ' ', status),
    list);
  load();
}

const EXAMPLE = {
  name: 'Базовая форма',
  groups: [
    { title: 'Приветствие', questions: [
      { id: 'hello', text: 'Поздоровался', kind: 'yes_no', weight: 1 },
      { id: 'name', text: 'Представился', kind: 'yes_no', weight: 1, critical: true, help: 'Достаточно имени' },
    ] },
    { title: 'Решение', questions: [
      { id: 'clarity', text: 'Понятный ответ', kind: 'scale', max: 4, weight: 2 },
      { id: 'result', text: 'Итог', kind: 'choice', weight: 4, choices: [
        { value: 'solved', label: 'Решён', points: 2 },
        { value: 'partly', label: 'Частично', points: 1 },
        { value: 'no', label: 'Не решён', points: 0 },
      ] },
    ] },
  ],
};

export function renderForms(root) {
  const list = h('div', {});
  const editor = h('textarea', { id: 'form-json', rows: 20, cols: 80 }, JSON.stringify(EXAMPLE, null, 2));
  const editing = { id: null };
  const status = h('span', { class: 'status', role: 'status' });
  const load = async () => {
    try {
      const { forms } = await api('GET', '/api/forms');
      mount(list, forms.length ? h('ul', {}, forms.map((f) => h('li', {},
        `${f.name} (версия ${f.version}) `,
        h('button', { type: 'button', class: 'link', onclick: () => {
          editing.id = f.id;
          editor.value = JSON.stringify({ name: f.name, groups: f.groups }, null, 2);
        } }, 'изменить')))) : h('p', { class: 'muted' }, 'Форм пока нет.'));
    } catch (e) { mount(list, errorBox(e.message)); }
  };
  mount(root, h('h1', {}, 'Формы оценки'), list,
    h('p', { class: 'muted' }, 'Форма — JSON: группы вопросов; вид вопроса yes_no, scale (max) или choice (choices с баллами); weight, critical, help. Изменение формы, по которой уже оценивали, создаёт новую версию.'),
    editor,
    h('p', {}, h('button', { type: 'button', id: 'save-form', onclick: async () => {
      let body;
      try { body = JSON.parse(editor.value); } catch { mount(status, errorBox('Это не JSON.')); return; }
      try {
        const f = editing.id ? await api('PUT', `/api/forms/${editing.id}`, body) : await api('POST', '/api/forms', body);
        editing.id = f.id;
        mount(status, `Сохранено: версия ${f.version}`);
        load();
      } catch (e) { mount(status, errorBox(e.message)); }
    } }, 'Сохранить'), ' ', h('button', { type: 'button', class: 'link', onclick: () => { editing.id = null; } }, 'как новую форму'), ' ', status));
  load();
}

function rows(list) {
  return list.map((r) => h('tr', {}, h('td', {}, r.name || r.label || r.key), h('td', { class: 'num' }, r.evaluations), h('td', { class: 'num' }, r.average)));
}

export function renderReports(root) {
  const from = h('input', { type: 'date', id: 'q-from' });
  const to = h('input', { type: 'date', id: 'q-to' });
  const out = h('div', { id: 'quality-report' });
  const csv = h('a', { id: 'quality-csv', href: '/api/reports/quality?format=csv' }, 'CSV');
  const load = async () => {
    const q = query({ from: from.value, to: to.value });
    csv.href = `/api/reports/quality${query({ from: from.value, to: to.value, format: 'csv' })}`;
    try {
      const [r, cal] = await Promise.all([api('GET', `/api/reports/quality${q}`), api('GET', `/api/reports/quality/calibration${q}`)]);
      const head = ['', 'Оценок', 'Средний балл'];
      mount(out,
        h('p', {}, `Оценок: ${r.evaluations}, звонков: ${r.calls_graded}, средний балл: ${r.average ?? '—'}`),
        h('h2', {}, 'По операторам'), table(head, rows(r.by_operator)),
        h('h2', {}, 'По группам вопросов'), table(head, rows(r.by_group)),
        h('h2', {}, 'По вопросам'), table(head, rows(r.by_question)),
        h('h2', {}, 'По неделям'), table(head, rows(r.by_week)),
        h('h2', {}, 'Согласованность оценщиков'),
        cal.calls.length ? table(['Звонок', 'Оценщиков', 'Мин.', 'Макс.', 'Ст. откл.'], cal.calls.map((c) => h('tr', {},
          h('td', {}, h('a', { href: `#/call/${encodeURIComponent(c.call_id)}` }, c.call_id)),
          h('td', { class: 'num' }, c.graders), h('td', { class: 'num' }, c.min), h('td', { class: 'num' }, c.max), h('td', { class: 'num' }, c.std_dev))))
          : h('p', { class: 'muted' }, 'Нет звонков, оценённых несколькими оценщиками.'));
    } catch (e) { mount(out, errorBox(e.message)); }
  };
  mount(root, h('h1', {}, 'Качество'),
    h('p', {}, 'С ', from, ' по ', to, ' ', h('button', { type: 'button', onclick: load }, 'Показать'), ' ', csv),
    out);
  load();
}

export function renderMine(root, { user }) {
  const list = h('div', { id: 'my-evaluations' });
  const load = async () => {
    try {
      const v = await api('GET', '/api/evaluations');
      mount(list, v.evaluations.length ? v.evaluations.map((e) => h('div', {},
        h('a', { href: `#/call/${encodeURIComponent(e.call_id)}` }, e.call_id),
        evaluationCard(e, user, load))) : h('p', { class: 'muted' }, 'Оценок пока нет.'));
    } catch (e) { mount(list, errorBox(e.message)); }
  };
  mount(root, h('h1', {}, 'Мои оценки'), list);
  load();
}
