// The console's entry: who is logged in, the header, and the hash routes
// (#/login, #/calls, #/call/<id>, #/live, #/stats, #/worklist, #/readings). Each view renders into <main> and may
// return a function that stops what it started (a live stream, an audio graph, a timer).

import { api, onUnauthorized } from './api.js';
import { h, mount, errorBox } from './dom.js';
import { ROLES } from './format.js';
import { renderLogin } from './login.js';
import { renderCalls } from './calls.js';
import { renderCall } from './call.js';
import { renderLive } from './live.js';
import { renderStats } from './stats.js';
import { renderForms, renderMine, renderQueue, renderReports } from './quality.js';
import { renderWorklist } from './worklist.js';
import { renderReadings } from './readings.js';

const RANK = { operator: 0, qa: 1, supervisor: 2, admin: 3 };

/** Does `user` have at least `role`? */
export function atLeast(user, role) {
  return !!user && (RANK[user.role] || 0) >= RANK[role];
}

const ROUTES = {
  calls: { title: 'Звонки', role: 'operator', render: renderCalls, nav: true },
  call: { title: 'Звонок', role: 'operator', render: renderCall },
  live: { title: 'Сейчас на линии', role: 'supervisor', render: renderLive, nav: true },
  stats: { title: 'Статистика', role: 'qa', render: renderStats, nav: true },
  grade: { title: 'Оценить', role: 'qa', render: renderQueue, nav: true },
  quality: { title: 'Качество', role: 'qa', render: renderReports, nav: true },
  forms: { title: 'Формы', role: 'qa', render: renderForms, nav: true },
  mine: { title: 'Мои оценки', role: 'operator', only: 'operator', render: renderMine, nav: true },
  worklist: { title: 'Пропущенные', role: 'qa', render: renderWorklist, nav: true },
  readings: { title: 'Показания', role: 'operator', render: renderReadings, nav: true },
};

const state = { user: null, cleanup: null };

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, q = ''] = raw.split('?');
  const [name, ...rest] = path.split('/');
  return { name: name || '', id: rest.length ? decodeURIComponent(rest.join('/')) : null, params: new URLSearchParams(q) };
}

/** Goes to a route (`'calls'`, `{caller: '123'}`) without reloading. */
export function navigate(name, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  const text = q.toString();
  location.hash = `#/${name}${text ? `?${text}` : ''}`;
}

function stopView() {
  if (typeof state.cleanup === 'function') {
    try { state.cleanup(); } catch (e) { console.error(e); }
  }
  state.cleanup = null;
}

function renderHeader() {
  const top = document.getElementById('top');
  if (!state.user) {
    top.hidden = true;
    return;
  }
  top.hidden = false;
  document.getElementById('who-name').textContent = state.user.username;
  document.getElementById('who-role').textContent = ROLES[state.user.role] || state.user.role;
  const current = parseHash().name;
  mount(document.getElementById('nav'), Object.entries(ROUTES)
    .filter(([, r]) => r.nav && atLeast(state.user, r.role) && (!r.only || state.user.role === r.only))
    .map(([name, r]) => h('a', {
      href: `#/${name}`,
      class: name === current || (current === 'call' && name === 'calls') ? 'active' : null,
    }, r.title)));
}

async function route() {
  stopView();
  const view = document.getElementById('view');
  const { name, id, params } = parseHash();
  if (!state.user) {
    renderHeader();
    document.title = 'Вход — горячая линия';
    state.cleanup = renderLogin(view, { params, onLogin });
    return;
  }
  if (name === 'login' || !ROUTES[name]) {
    navigate(atLeast(state.user, 'operator') ? 'calls' : 'login');
    return;
  }
  const r = ROUTES[name];
  renderHeader();
  document.title = `${r.title} — горячая линия`;
  if (!atLeast(state.user, r.role)) {
    mount(view, h('h1', {}, r.title), errorBox('Недостаточно прав: эта страница доступна руководителю службы.'));
    return;
  }
  mount(view);
  state.cleanup = r.render(view, { id, params, user: state.user, navigate }) || null;
}

function onLogin(user) {
  state.user = user;
  const next = parseHash();
  if (next.name === 'login' || !next.name) navigate('calls');
  else route();
}

async function start() {
  document.getElementById('logout').addEventListener('click', async () => {
    try { await api('POST', '/api/logout'); } catch { /* the session is gone either way */ }
    state.user = null;
    stopView();
    navigate('login');
  });
  onUnauthorized(() => {
    if (!state.user) return;
    state.user = null;
    route();
  });
  window.addEventListener('hashchange', route);
  try {
    state.user = await api('GET', '/api/me');
  } catch (e) {
    state.user = null;
    if (e.status !== 401) {
      mount(document.getElementById('view'), errorBox(e.message));
      return;
    }
  }
  route();
}

start();
