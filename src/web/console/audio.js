// A call's audio metrics (`audio` of GET /api/calls/{id}): bars over the recording's
// timeline for the caller's speech, the operator's, overtalk (both at once) and dead air
// (neither, outside holds), and the figures beside them. Nothing until the recording has
// been analysed.

import { h, s } from './dom.js';
import { duration } from './format.js';

const ROWS = [
  ['caller', 'Абонент говорит', '#1f6fb2'],
  ['operator', 'Оператор говорит', '#2e8b57'],
  ['overtalk', 'Говорят одновременно', '#d9822b'],
  ['dead_air', 'Тишина', '#b03a2e'],
];

const FLAGS = {
  long_dead_air: 'долгая тишина',
  heavy_overtalk: 'частые перебивания',
  operator_silent: 'оператор молчал',
};

export function audioSection(call) {
  const a = call.audio;
  if (!a) {
    const why = call.recording_url ? 'Запись ещё не проанализирована.' : 'Записи нет.';
    return h('section', { class: 'card', id: 'audio' }, h('h2', {}, 'Речь и тишина'), h('p', { class: 'muted' }, why));
  }
  const width = 1000;
  const rowH = 18;
  const label = 160;
  const total = Math.max(1, a.duration_ms);
  const svg = s('svg', { viewBox: `0 0 ${width} ${ROWS.length * (rowH + 6)}`, class: 'chart audio-bars', role: 'img' });
  ROWS.forEach(([key, name, color], i) => {
    const y = i * (rowH + 6);
    svg.append(s('text', { x: 0, y: y + rowH - 4, class: 'axis' }, name));
    svg.append(s('rect', { x: label, y, width: width - label, height: rowH, class: 'grid', fill: '#f2f2f2' }));
    for (const [from, to] of (a.segments && a.segments[key]) || []) {
      const x = label + ((width - label) * from) / total;
      const w = Math.max(1, ((width - label) * (to - from)) / total);
      svg.append(s('rect', { x, y, width: w, height: rowH, fill: color, class: `seg-${key}` },
        s('title', {}, `${name}: ${duration(from)} – ${duration(to)}`)));
    }
  });
  const share = a.operator_talk_share === null ? '—' : `${Math.round(a.operator_talk_share * 100)} %`;
  const level = (l) => (l.rms_dbfs === null ? '—' : `${l.rms_dbfs.toFixed(1)} dBFS`)
    + (l.clipped_samples ? `, перегрузка: ${l.clipped_samples}` : '');
  const facts = [
    ['Абонент говорил', duration(a.caller_speech_ms)],
    ['Оператор говорил', duration(a.operator_speech_ms)],
    ['Одновременно', duration(a.overtalk_ms)],
    ['Тишина (без удержания)', duration(a.silence_ms)],
    ['Самая долгая пауза', duration(a.longest_silence_ms)],
    ['Доля оператора', share],
    ['Уровень абонента', level(a.caller_level)],
    ['Уровень оператора', level(a.operator_level)],
  ];
  return h('section', { class: 'card', id: 'audio' },
    h('h2', {}, 'Речь и тишина'),
    a.flags.length
      ? h('p', { id: 'audio-flags' }, a.flags.map((f) => h('span', { class: 'badge flagged' }, FLAGS[f] || f)))
      : null,
    svg,
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
}
