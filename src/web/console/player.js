// The recording player: an <audio> element streaming the WAV (range requests), listening to
// the caller, the operator or both (Web Audio: ChannelSplitterNode, then a gain and a pan
// per channel), and a level view drawn on a canvas from the WAV's samples.
//
// The recording is stereo by contract: caller left (channel 0), operator right (channel 1),
// from the operator's answer (`connected_at`) to the end. The level view reads the file as a
// stream and keeps one peak per 10 ms per channel, so an hour-long call costs a few
// megabytes of memory, not the whole file. Holds are shaded on it: during an operator's
// hold the caller heard hold music, and the operator's channel is what the caller missed.

import { h } from './dom.js';
import { HOLDS, duration } from './format.js';

const MODES = [
  ['both', 'Оба'],
  ['caller', 'Абонент'],
  ['operator', 'Оператор'],
];
const COLORS = {
  caller: '#1f6fb2', operator: '#2e8540', cursor: '#c0392b', grid: '#d6dbe1', muted: '#c4cbd3',
  operatorHold: 'rgba(230, 150, 0, 0.28)', callerHold: 'rgba(95, 107, 119, 0.2)',
};

/**
 * The call's holds as spans of the recording, in seconds from its start (the operator's
 * answer); a hold still open at the end of the call runs to the end of the recording.
 */
export function holdSpans(holds, connectedAt, recordingSeconds) {
  const zero = Date.parse(connectedAt || '');
  if (!Number.isFinite(zero)) return [];
  const end = Number.isFinite(recordingSeconds) ? recordingSeconds : Infinity;
  return (holds || []).map((hold) => {
    const from = Math.max(0, (Date.parse(hold.from) - zero) / 1000);
    const to = hold.to ? Math.min(end, (Date.parse(hold.to) - zero) / 1000) : end;
    return { by: hold.by, from, to };
  }).filter((span) => Number.isFinite(span.from) && span.to > span.from);
}

export function createPlayer(call) {
  const audio = h('audio', { controls: true, preload: 'metadata', src: call.recording_url, id: 'player' });
  const canvas = h('canvas', { class: 'wave', id: 'wave', height: 140, title: 'Щёлкните, чтобы перейти к этому месту' });
  const note = h('p', { class: 'muted small', id: 'wave-note' }, 'Построение графика громкости…');
  const spans = holdSpans(call.holds, call.connected_at, call.recording_ms / 1000);
  let mode = 'both';
  let graph = null;
  let frame = 0;
  const levels = { caller: [], operator: [], bucketMs: 10, done: false };
  const abort = new AbortController();

  const modeButtons = MODES.map(([value, text]) => h('button', {
    type: 'button', class: value === mode ? 'seg active' : 'seg', dataset: { mode: value },
    'aria-pressed': String(value === mode),
    onclick: () => setMode(value),
  }, text));

  function setMode(value) {
    mode = value;
    for (const b of modeButtons) {
      const on = b.dataset.mode === value;
      b.classList.toggle('active', on);
      b.setAttribute('aria-pressed', String(on));
    }
    ensureGraph();
    applyMode();
    draw();
  }

  // Built on the first user action: browsers keep an AudioContext silent until then, and once
  // an element feeds a graph its sound only comes out through that graph.
  function ensureGraph() {
    if (graph) return;
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    const ctx = new Ctx();
    const source = ctx.createMediaElementSource(audio);
    const split = ctx.createChannelSplitter(2);
    source.connect(split);
    const lane = (index) => {
      const gain = ctx.createGain();
      const pan = ctx.createStereoPanner();
      split.connect(gain, index);
      gain.connect(pan).connect(ctx.destination);
      return { gain, pan };
    };
    graph = { ctx, caller: lane(0), operator: lane(1) };
  }

  function applyMode() {
    if (!graph) return;
    const t = graph.ctx.currentTime;
    // One party alone is heard in both ears; both keep their sides, softened toward the middle.
    graph.caller.gain.gain.setValueAtTime(mode === 'operator' ? 0 : 1, t);
    graph.operator.gain.gain.setValueAtTime(mode === 'caller' ? 0 : 1, t);
    graph.caller.pan.pan.setValueAtTime(mode === 'both' ? -0.6 : 0, t);
    graph.operator.pan.pan.setValueAtTime(mode === 'both' ? 0.6 : 0, t);
  }

  audio.addEventListener('play', () => {
    ensureGraph();
    applyMode();
    if (graph) graph.ctx.resume();
    tick();
  });
  audio.addEventListener('pause', () => { cancelAnimationFrame(frame); draw(); });
  audio.addEventListener('seeked', draw);
  audio.addEventListener('loadedmetadata', draw);
  audio.addEventListener('error', () => {
    note.textContent = 'Не удалось загрузить запись. Обновите страницу или сообщите администратору.';
    note.classList.add('error');
  });
  canvas.addEventListener('click', (e) => {
    const total = totalSeconds();
    if (!total) return;
    const rect = canvas.getBoundingClientRect();
    audio.currentTime = Math.max(0, Math.min(total, ((e.clientX - rect.left) / rect.width) * total));
  });

  function tick() {
    draw();
    if (!audio.paused) frame = requestAnimationFrame(tick);
  }

  function totalSeconds() {
    if (Number.isFinite(audio.duration) && audio.duration > 0) return audio.duration;
    return (levels.caller.length * levels.bucketMs) / 1000;
  }

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const cssWidth = canvas.clientWidth || 800;
    const cssHeight = 140;
    if (canvas.width !== Math.round(cssWidth * dpr)) {
      canvas.width = Math.round(cssWidth * dpr);
      canvas.height = Math.round(cssHeight * dpr);
    }
    const g = canvas.getContext('2d');
    if (!g) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cssWidth, cssHeight);
    const lanes = [['caller', 'Абонент', 0], ['operator', 'Оператор', cssHeight / 2]];
    const n = levels.caller.length;
    const total = totalSeconds();
    if (total) {
      for (const span of spans) {
        const x0 = (span.from / total) * cssWidth;
        const x1 = (Math.min(span.to, total) / total) * cssWidth;
        g.fillStyle = span.by === 'operator' ? COLORS.operatorHold : COLORS.callerHold;
        g.fillRect(x0, 0, Math.max(1, x1 - x0), cssHeight);
      }
    }
    const columns = Math.max(1, Math.floor(cssWidth));
    for (const [key, text, top] of lanes) {
      const mid = top + cssHeight / 4;
      const half = cssHeight / 4 - 6;
      const heard = mode === 'both' || mode === key;
      g.strokeStyle = COLORS.grid;
      g.beginPath(); g.moveTo(0, mid + 0.5); g.lineTo(cssWidth, mid + 0.5); g.stroke();
      g.fillStyle = heard ? COLORS[key] : COLORS.muted;
      const data = levels[key];
      // Columns cover the recording's full length even while the file is still being read.
      const expected = total ? Math.max(n, Math.round((total * 1000) / levels.bucketMs)) : n;
      for (let x = 0; x < columns && expected; x++) {
        const from = Math.floor((x * expected) / columns);
        const to = Math.max(from + 1, Math.floor(((x + 1) * expected) / columns));
        let peak = 0;
        for (let i = from; i < to && i < data.length; i++) if (data[i] > peak) peak = data[i];
        // Square root: quiet speech (peaks of a few per cent) stays visible beside shouting.
        const hgt = Math.max(0.5, Math.sqrt(peak) * half);
        g.fillRect(x, mid - hgt, 1, hgt * 2);
      }
      g.fillStyle = '#44505c';
      g.font = '12px system-ui, sans-serif';
      g.fillText(text, 6, top + 14);
    }
    if (total) {
      const x = Math.round((audio.currentTime / total) * cssWidth) + 0.5;
      g.strokeStyle = COLORS.cursor;
      g.lineWidth = 1.5;
      g.beginPath(); g.moveTo(x, 0); g.lineTo(x, cssHeight); g.stroke();
      g.lineWidth = 1;
    }
  }

  readLevels(call.recording_url, levels, abort.signal, draw).then((info) => {
    note.textContent = `${info.channels === 2 ? 'Стерео' : `Каналов: ${info.channels}`}, ${info.sampleRate} Гц, ${duration((levels.caller.length * levels.bucketMs))}.`;
    draw();
  }).catch((e) => {
    if (abort.signal.aborted) return;
    note.textContent = e instanceof WavError ? e.message : 'Не удалось построить график громкости записи.';
    note.classList.add('error');
  });

  const element = h('div', { class: 'player' },
    audio,
    h('div', { class: 'player-bar' },
      h('span', { class: 'muted' }, 'Слушать:'),
      h('div', { class: 'segmented', role: 'group', 'aria-label': 'Каналы' }, modeButtons),
      h('a', { href: `${call.recording_url}?download=1`, class: 'btn', download: `${call.id}.wav`, id: 'download' }, 'Скачать WAV')),
    canvas,
    holdLegend(spans, (seconds) => { audio.currentTime = seconds; }),
    note);
  requestAnimationFrame(draw);
  window.addEventListener('resize', draw);

  return {
    element,
    stop() {
      abort.abort();
      cancelAnimationFrame(frame);
      window.removeEventListener('resize', draw);
      audio.pause();
      audio.removeAttribute('src');
      audio.load();
      if (graph) graph.ctx.close();
    },
  };
}

/** What the shading means: each hold with its place on the recording (a click goes there). */
function holdLegend(spans, seek) {
  if (!spans.length) return null;
  return h('ul', { class: 'hold-legend', id: 'wave-legend' }, spans.map((span) => h('li', {},
    h('span', { class: `swatch ${span.by}`, 'aria-hidden': 'true' }),
    h('a', { href: '#', onclick: (e) => { e.preventDefault(); seek(span.from); } },
      `${duration(span.from * 1000)}–${Number.isFinite(span.to) ? duration(span.to * 1000) : 'конец'}`),
    ' ', HOLDS[span.by] || span.by)));
}

/** The file is not a WAV this page can read; the message is for the user. */
class WavError extends Error {}

/**
 * Streams a PCM WAV and appends one peak (0..1) per `levels.bucketMs` to `levels.caller` and
 * `levels.operator` (channels 0 and 1; a mono file fills both). Calls `progress` now and then.
 */
async function readLevels(url, levels, signal, progress) {
  const response = await fetch(url, { credentials: 'same-origin', signal });
  if (!response.ok || !response.body) throw new WavError('Запись недоступна для построения графика.');
  const reader = response.body.getReader();
  let buf = new Uint8Array(0);
  let fmt = null;
  let inData = false;
  let bucketFrames = 0;
  let frameInBucket = 0;
  let peaks = [0, 0];
  let lastDraw = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buf = concat(buf, value);
    while (!inData) {
      // RIFF header, then chunks until "data" (RIFF/WAVE, "fmt " before "data").
      if (!fmt && buf.length >= 12) {
        const tag = ascii(buf, 0, 4);
        if (tag !== 'RIFF' || ascii(buf, 8, 4) !== 'WAVE') throw new WavError('Файл записи не является WAV.');
        buf = buf.subarray(12);
        fmt = {};
      }
      if (!fmt || buf.length < 8) break;
      const id = ascii(buf, 0, 4);
      const size = new DataView(buf.buffer, buf.byteOffset, 8).getUint32(4, true);
      if (id === 'data') {
        buf = buf.subarray(8);
        inData = true;
        if (fmt.bits !== 16 || !fmt.channels) throw new WavError('Формат записи не поддерживается графиком (нужен PCM 16 бит).');
        bucketFrames = Math.max(1, Math.round((fmt.sampleRate * levels.bucketMs) / 1000));
        break;
      }
      const padded = size + (size & 1);
      if (buf.length < 8 + padded) break;
      if (id === 'fmt ') {
        const v = new DataView(buf.buffer, buf.byteOffset + 8, size);
        fmt.format = v.getUint16(0, true);
        fmt.channels = v.getUint16(2, true);
        fmt.sampleRate = v.getUint32(4, true);
        fmt.bits = v.getUint16(14, true);
      }
      buf = buf.subarray(8 + padded);
    }
    if (inData) {
      const frameBytes = 2 * fmt.channels;
      const frames = Math.floor(buf.length / frameBytes);
      const v = new DataView(buf.buffer, buf.byteOffset, frames * frameBytes);
      for (let f = 0; f < frames; f++) {
        for (let c = 0; c < Math.min(2, fmt.channels); c++) {
          const a = Math.abs(v.getInt16(f * frameBytes + c * 2, true)) / 32768;
          if (a > peaks[c]) peaks[c] = a;
        }
        if (++frameInBucket === bucketFrames) {
          levels.caller.push(peaks[0]);
          levels.operator.push(fmt.channels > 1 ? peaks[1] : peaks[0]);
          peaks = [0, 0];
          frameInBucket = 0;
        }
      }
      buf = buf.subarray(frames * frameBytes);
      if (performance.now() - lastDraw > 250) {
        lastDraw = performance.now();
        progress();
      }
    }
    if (done) break;
  }
  if (!inData) throw new WavError('Файл записи повреждён: нет звуковых данных.');
  if (frameInBucket) {
    levels.caller.push(peaks[0]);
    levels.operator.push(fmt.channels > 1 ? peaks[1] : peaks[0]);
  }
  levels.done = true;
  return fmt;
}

function concat(a, b) {
  if (!a.length) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function ascii(buf, at, n) {
  return String.fromCharCode(...buf.subarray(at, at + n));
}
