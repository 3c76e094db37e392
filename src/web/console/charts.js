// Small inline-SVG charts: grouped vertical bars per day, horizontal bars per operator or
// topic. Sized by a viewBox, so they scale with the page; every bar has a <title> tooltip.

import { h, s } from './dom.js';

/**
 * Grouped bars: `categories` along the bottom, one bar per series in each group.
 * series: [{ name, color, values: [number|null] }]; `max` fixes the scale (e.g. 1 for shares).
 */
export function barChart({ categories, series, max, format = String, height = 220, width = 1000, steps = COUNT_STEPS, id }) {
  const pad = { left: 44, right: 8, top: 10, bottom: 34 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const highest = Math.max(0, ...series.flatMap((x) => x.values.map((v) => v ?? 0)));
  const step = max ? max / 4 : niceStep(highest / 4, steps);
  const ticks = max ? 4 : Math.max(1, Math.ceil(highest / step));
  const top = max ?? step * ticks;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', id });
  for (let i = 0; i <= ticks; i++) {
    const v = step * i;
    const y = pad.top + plotH - (plotH * i) / ticks;
    svg.append(s('line', { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: 'grid' }));
    svg.append(s('text', { x: pad.left - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' }, format(v)));
  }
  const n = Math.max(1, categories.length);
  const group = plotW / n;
  const bar = Math.max(1, Math.min(28, (group * 0.8) / series.length));
  const every = Math.ceil(n / 16);
  categories.forEach((c, i) => {
    const x0 = pad.left + i * group + (group - bar * series.length) / 2;
    series.forEach((ser, j) => {
      const v = ser.values[i];
      if (v === null || v === undefined) return;
      const hgt = top ? (plotH * Math.min(v, top)) / top : 0;
      if (hgt <= 0) return;
      svg.append(s('rect', {
        x: x0 + j * bar, y: pad.top + plotH - hgt, width: Math.max(1, bar - 1), height: Math.max(0, hgt), fill: ser.color,
      }, s('title', {}, `${c}: ${ser.name} — ${format(v)}`)));
    });
    if (i % every === 0) {
      svg.append(s('text', { x: pad.left + i * group + group / 2, y: height - pad.bottom + 16, class: 'axis', 'text-anchor': 'middle' }, c));
    }
  });
  const legend = h('div', { class: 'legend' }, series.map((x) => h('span', {}, swatch(x.color), x.name)));
  return h('figure', { class: 'chart-wrap' }, svg, series.length > 1 ? legend : null);
}

function swatch(color) {
  const el = h('i', { class: 'swatch' });
  el.style.background = color;
  return el;
}

/** Horizontal bars: rows [{ label, value, text }], longest bar = largest value. */
export function hbars(rows, color = '#1f6fb2') {
  const max = Math.max(1, ...rows.map((r) => r.value));
  return h('div', { class: 'hbars' }, rows.map((r) => {
    const fill = h('span', { class: 'hbar-fill' });
    fill.style.width = `${(100 * r.value) / max}%`;
    fill.style.background = color;
    return h('div', { class: 'hbar' },
      h('span', { class: 'hbar-label' }, r.label),
      h('span', { class: 'hbar-track' }, fill),
      h('span', { class: 'hbar-value' }, r.text ?? String(r.value)));
  }));
}

/** Grid steps for counts: whole numbers only. */
export const COUNT_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000];
/** Grid steps for durations in ms: whole seconds and minutes. */
export const MS_STEPS = [1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000];

function niceStep(raw, steps) {
  return steps.find((x) => x >= raw) ?? steps[steps.length - 1] * Math.ceil(raw / steps[steps.length - 1]);
}
