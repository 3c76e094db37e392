// Grading on the call page: for QA, a panel beside the player to fill an evaluation form
// (POST /api/calls/{id}/evaluations; the server computes the score) with comments tied to
// moments of the recording (a click on the level view picks the moment); for everyone, the
// call's evaluations, and for the operator whose call it is, acknowledge or dispute.

import { api, query } from './api.js';
import { h, mount, errorBox } from './dom.js';
import { duration } from './format.js';

const STATUS = {
  graded: 'оценено', acknowledged: 'принято оператором', disputed: 'оспорено', resolved: 'спор разобран',
};

/** Fills `root` with the call's evaluations and, for graders, the grading panel. */
export function renderGrading(root, call, player, user) {
  const list = h('div', { id: 'evaluations' });
  mount(root, h('h2', {}, 'Оценка качества'), list);
  const refresh = () => loadEvaluations(list, call, user);
  refresh();
  if (user.role !== 'operator') root.append(gradingPanel(call, player, refresh));
}

async function loadEvaluations(list, call, user) {
  try {
    const v = await api('GET', `/api/evaluations${query({ call: call.id, limit: 100 })}`);
    if (!v.evaluations.length) {
      mount(list, h('p', { class: 'muted' }, 'Звонок ещё не оценивали.'));
      return;
    }
    mount(list, v.evaluations.map((e) => evaluationCard(e, user, () => loadEvaluations(list, call, user))));
  } catch (e) {
    mount(list, errorBox(e.message));
  }
}

export function evaluationCard(e, user, refresh) {
  const comments = (e.comments || []).map((c) => h('li', {},
    c.at_ms === null || c.at_ms === undefined ? '' : h('b', {}, `${duration(c.at_ms)} `), c.text));
  const status = h('span', { class: 'status', role: 'status' });
  const card = h('div', { class: 'evaluation', dataset: { id: String(e.id) } },
    h('p', {}, h('b', { class: 'score' }, `${e.score}`), ' баллов из 100 · ',
      `оценил(а) ${e.grader} · `, h('span', { class: 'eval-status' }, STATUS[e.status] || e.status)),
    comments.length ? h('ul', { class: 'comments' }, comments) : null,
    e.operator_comment ? h('p', {}, 'Оператор: ', h('i', { class: 'operator-comment' }, e.operator_comment)) : null,
    e.grader_reply ? h('p', {}, 'Ответ: ', h('i', {}, e.grader_reply)) : null);
  if (user.role === 'operator' && e.status === 'graded') {
    const text = h('input', { type: 'text', class: 'dispute-text', placeholder: 'С чем вы не согласны' });
    const answer = async (status) => {
      try {
        await api('POST', `/api/evaluations/${e.id}/response`, { status, comment: text.value });
        refresh();
      } catch (err) { mount(status, errorBox(err.message)); }
    };
    card.append(h('p', {},
      h('button', { type: 'button', class: 'acknowledge', onclick: () => answer('acknowledged') }, 'Принять'),
      ' ', text, ' ',
      h('button', { type: 'button', class: 'dispute', onclick: () => answer('disputed') }, 'Оспорить'), status));
  }
  if (user.role !== 'operator' && e.status === 'disputed') {
    const reply = h('input', { type: 'text', class: 'reply-text', placeholder: 'Ответ оператору' });
    card.append(h('p', {}, reply, ' ', h('button', { type: 'button', class: 'resolve', onclick: async () => {
      try {
        await api('POST', `/api/evaluations/${e.id}/resolution`, { reply: reply.value });
        refresh();
      } catch (err) { mount(status, errorBox(err.message)); }
    } }, 'Ответить'), status));
  }
  return card;
}

function gradingPanel(call, player, refresh) {
  const panel = h('div', { class: 'grading', id: 'grading' }, h('p', { class: 'muted' }, 'Загрузка форм…'));
  api('GET', '/api/forms').then(({ forms }) => {
    if (!forms.length) {
      mount(panel, h('p', { class: 'muted' }, 'Нет форм оценки: создайте форму на странице «Формы».'));
      return;
    }
    const select = h('select', { id: 'grading-form' }, forms.map((f) => h('option', { value: f.id }, `${f.name} (в. ${f.version})`)));
    const body = h('div', {});
    const show = () => mount(body, formFields(forms.find((f) => String(f.id) === select.value), call, player, refresh));
    select.addEventListener('change', show);
    mount(panel, h('label', {}, 'Форма ', select), body);
    show();
  }).catch((e) => mount(panel, errorBox(e.message)));
  return panel;
}

function questionInput(q) {
  const name = `q-${q.id}`;
  if (q.kind === 'yes_no') {
    return h('select', { name, dataset: { q: q.id, kind: 'yes_no' } },
      h('option', { value: 'true' }, 'да'), h('option', { value: 'false' }, 'нет'));
  }
  if (q.kind === 'scale') {
    return h('input', { type: 'number', min: 0, max: q.max, value: q.max, name, dataset: { q: q.id, kind: 'scale' } });
  }
  return h('select', { name, dataset: { q: q.id, kind: 'choice' } },
    q.choices.map((c) => h('option', { value: c.value }, `${c.label} (${c.points})`)));
}

function formFields(form, call, player, refresh) {
  const comments = [];
  const commentList = h('ul', { class: 'comments' });
  const at = h('input', { type: 'number', min: 0, id: 'comment-at', placeholder: 'мс', size: 8 });
  const text = h('input', { type: 'text', id: 'comment-text', placeholder: 'Комментарий' });
  // A click on the level view moves the player; the comment takes that moment.
  if (player && player.element) {
    const wave = player.element.querySelector('canvas');
    const audio = player.element.querySelector('audio');
    if (wave && audio) wave.addEventListener('click', () => setTimeout(() => { at.value = Math.round(audio.currentTime * 1000); }, 0));
  }
  const addComment = () => {
    if (!text.value.trim()) return;
    const c = { text: text.value.trim() };
    if (at.value !== '') c.at_ms = Number(at.value);
    comments.push(c);
    commentList.append(h('li', {}, c.at_ms !== undefined ? h('b', {}, `${duration(c.at_ms)} `) : '', c.text));
    text.value = '';
    at.value = '';
  };
  const status = h('span', { class: 'status', role: 'status' });
  const fields = form.groups.map((g) => h('fieldset', {}, h('legend', {}, g.title),
    g.questions.map((q) => h('p', { class: 'question' },
      h('label', { title: q.help || '' }, q.text, q.critical ? ' *' : '', ' ', questionInput(q)),
      q.help ? h('span', { class: 'muted' }, ` ${q.help}`) : null))));
  const box = h('div', {}, fields,
    h('p', {}, 'Момент записи ', at, ' ', text, ' ', h('button', { type: 'button', id: 'add-comment', onclick: addComment }, 'Добавить комментарий')),
    commentList,
    h('p', {}, h('button', { type: 'button', id: 'save-evaluation', onclick: async () => {
      const answers = {};
      for (const el of box.querySelectorAll('[data-q]')) {
        const kind = el.dataset.kind;
        answers[el.dataset.q] = kind === 'yes_no' ? el.value === 'true' : kind === 'scale' ? Number(el.value) : el.value;
      }
      try {
        const r = await api('POST', `/api/calls/${encodeURIComponent(call.id)}/evaluations`, { form: form.id, answers, comments });
        mount(status, h('span', { class: 'ok', id: 'saved-score' }, `Сохранено: ${r.score} баллов`));
        refresh();
      } catch (e) { mount(status, errorBox(e.message)); }
    } }, 'Сохранить оценку'), ' ', status));
  return box;
}
