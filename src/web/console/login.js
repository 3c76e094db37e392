// The login screen: username and password, POST /api/login; the cookie it sets is the session.

import { api } from './api.js';
import { h, mount, errorBox } from './dom.js';

export function renderLogin(root, { onLogin }) {
  const message = h('div', { class: 'message' });
  const username = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Войти');
  const form = h('form', { class: 'login card', onsubmit: async (e) => {
    e.preventDefault();
    submit.disabled = true;
    mount(message);
    try {
      const user = await api('POST', '/api/login', { username: username.value.trim(), password: password.value });
      onLogin(user);
    } catch (err) {
      password.value = '';
      mount(message, errorBox(err.message));
      password.focus();
    } finally {
      submit.disabled = false;
    }
  } },
  h('h1', {}, 'Горячая линия'),
  h('p', { class: 'muted' }, 'Консоль контроля качества обслуживания абонентов'),
  h('label', { for: 'username' }, 'Имя пользователя'), username,
  h('label', { for: 'password' }, 'Пароль'), password,
  message,
  submit);
  mount(root, h('div', { class: 'login-wrap' }, form));
  username.focus();
}
