// Retention on the call page: a recording destroyed under the retention rules is shown as
// destroyed (never as a broken player), and a legal hold with its reason.

import { h } from './dom.js';
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
