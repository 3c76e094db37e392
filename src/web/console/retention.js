// Retention on the call page: a recording destroyed under the retention rules is shown as
// destroyed (never as a broken player), and a legal hold with its reason.

import { api } from './api.js';
import { h, mount, errorBox } from './dom.js';
import { dateTime } from './format.js';

/** Lines for the recording card, or null when there is nothing to say. */
export function retentionNotes(call) {
  const notes = [];
  if (call.recording_purged_at) {
    notes.push(h('p', { class: 'muted', id: 'recording-purged' },
      `Запись уничтожена по сроку хранения ${dateTime(call.recording_purged_at)}. Сведения о звонке сохранены.`));
  }
  if (call.legal_hold) {
    notes.push(h('p', { id: 'legal-hold' },
      h('span', { class: 'badge flagged' }, 'Запрет удаления'), ' ',
      `${call.legal_hold.reason} (${call.legal_hold.set_by}, ${dateTime(call.legal_hold.set_at)})`));
  }
  return notes.length ? notes : null;
}

/**
 * An admin's control of the legal hold: a reason and "put on hold", or "lift the hold".
 * The hold exempts the recording from every purge; both changes are audited by the server.
 * Null for other roles and for a recording already destroyed.
 */
export function legalHoldControl(call, user, reload) {
  if (!user || user.role !== 'admin' || call.recording_purged_at || !call.recording_path) return null;
  const status = h('span', { class: 'status', role: 'status' });
  const path = `/api/calls/${encodeURIComponent(call.id)}/legal-hold`;
  const run = async (button, method, body) => {
    button.disabled = true;
    mount(status, 'Сохранение…');
    try {
      await api(method, path, body);
      reload();
    } catch (e) {
      button.disabled = false;
      mount(status, errorBox(e.message));
    }
  };
  if (call.legal_hold) {
    const lift = h('button', { type: 'button', id: 'legal-hold-lift',
      onclick: () => run(lift, 'DELETE') }, 'Снять запрет удаления');
    return h('p', { class: 'legal-hold-control' }, lift, ' ', status);
  }
  const reason = h('input', { id: 'legal-hold-reason', type: 'text', maxlength: '200',
    placeholder: 'Основание: запрос суда, жалоба…', 'aria-label': 'Основание запрета удаления' });
  const set = h('button', { type: 'button', id: 'legal-hold-set', onclick: () => {
    if (!reason.value.trim()) {
      mount(status, errorBox('Укажите основание запрета удаления.'));
      return;
    }
    run(set, 'PUT', { reason: reason.value.trim() });
  } }, 'Запретить удаление записи');
  return h('p', { class: 'legal-hold-control' }, reason, ' ', set, ' ', status);
}
