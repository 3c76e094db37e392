// The QA API as the pages use it: JSON in and out, the session cookie sent by the browser,
// and every failure turned into one plain-Russian sentence.

/** A failed request: `status` (0 when the server could not be reached) and a message to show. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const listeners = new Set();

/** Called with no arguments whenever the server says the session is gone (401). */
export function onUnauthorized(fn) {
  listeners.add(fn);
}

/** Builds a query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

/**
 * One request; resolves to the parsed JSON (or null for 204), rejects with ApiError.
 * A changing request always goes out as JSON (an empty object when there is nothing to
 * say): the server refuses any other body type, so that no other site can forge one.
 */
export async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined || method !== 'GET') {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'Сервер недоступен. Проверьте подключение к сети и повторите попытку.');
  }
  if (response.status === 204) return null;
  let data = null;
  const text = await response.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.ok) return data;
  const detail = data && typeof data.error === 'string' ? data.error : '';
  if (response.status === 401 && path !== '/api/login') listeners.forEach((fn) => fn());
  throw new ApiError(response.status, explain(response.status, detail, path));
}

function explain(status, detail, path) {
  switch (status) {
    case 400: return `Неверно заполнен запрос${detail ? ` (${detail})` : ''}. Исправьте значения и повторите.`;
    case 401: return path === '/api/login'
      ? 'Неверное имя пользователя или пароль.'
      : 'Сеанс завершён. Войдите заново.';
    case 403: return 'Недостаточно прав для этого действия.';
    case 404: return 'Не найдено: запись отсутствует или была удалена.';
    case 409: return `Действие отклонено${detail ? `: ${detail}` : ''}.`;
    case 416: return 'Запрошенный фрагмент записи недоступен.';
    case 415: return 'Сервер не принял формат запроса. Обновите страницу и повторите.';
    case 429: return 'Слишком много неудачных попыток входа. Вход временно заблокирован, попробуйте позже.';
    // A call-back without a registered provider says why; the admin can act on that.
    case 503: if (detail) return `Сейчас недоступно: ${detail}.`;
      return 'Ошибка на сервере. Повторите попытку позже или сообщите администратору.';
    default:
      if (status >= 500) return 'Ошибка на сервере. Повторите попытку позже или сообщите администратору.';
      return `Запрос не выполнен (код ${status}).`;
  }
}
