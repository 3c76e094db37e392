// How the register's values read in Russian: labels for codes, times in the line's zone,
// durations. The contract's topic labels are quoted exactly.

let zone = 'Europe/Moscow';

/** The line's time zone (from /api/stats); Moscow until the server says otherwise. */
export function setZone(z) {
  if (typeof z === 'string' && z) zone = z;
}
export function getZone() {
  return zone;
}

export const TOPICS = {
  billing: 'Начисления и оплата',
  meter_readings: 'Показания счётчиков',
  contract: 'Договор',
  connection: 'Техническое подключение',
  debt: 'Задолженность',
  referred: 'Переадресован в другой отдел',
  other: 'Другое',
};

export const OUTCOMES = {
  answered: 'Отвечен',
  abandoned: 'Абонент не дождался',
  after_hours: 'Нерабочее время',
  overflow: 'Превышено ожидание',
  no_operators: 'Нет операторов',
  rejected: 'Отклонён',
  failed: 'Сбой',
  interrupted: 'Прерван',
  self_service: 'Самообслуживание',
  in_progress: 'Идёт',
};

/** Who handed a meter reading in. */
export const READING_SOURCES = { phone: 'по телефону', operator: 'оператор' };

export const METER_KINDS = { cold: 'холодная вода', hot: 'горячая вода' };

export const ROLES = { operator: 'оператор', qa: 'контроль качества', supervisor: 'руководитель', admin: 'администратор' };

export const OPERATOR_STATES = {
  offline: 'Не в сети',
  available: 'Свободен',
  ringing: 'Вызов',
  talking: 'Разговор',
  wrap_up: 'Постобработка',
  paused: 'Пауза',
};

export const EVENTS = {
  received: 'Звонок поступил',
  answered: 'Линия ответила',
  notice: 'Предупреждение о записи',
  queued: 'Поставлен в очередь',
  connected: 'Соединён с оператором',
  ended: 'Завершён',
  operator_hold: 'Оператор поставил абонента на удержание — абонент слышал музыку',
  operator_resume: 'Оператор снял абонента с удержания',
  caller_hold: 'Абонент поставил звонок на удержание',
  caller_resume: 'Абонент снял звонок с удержания',
  caller_media_moved: 'Звук абонента стал приходить с другого адреса',
  operator_media_moved: 'Звук оператора стал приходить с другого адреса',
  menu_choice: 'Выбор в голосовом меню',
  menu_no_choice: 'Голосовое меню без выбора — в очередь без темы',
  readings_account: 'Показания счётчиков: введён лицевой счёт',
  reading_accepted: 'Показание принято',
  readings_to_operator: 'Показания счётчиков: к оператору',
  readings_done: 'Показания счётчиков переданы',
};

/** A hold as the recording's level view explains it, by who held. */
export const HOLDS = {
  operator: 'Оператор держал абонента на удержании: абонент слышал музыку и не слышал, что говорил оператор',
  caller: 'Абонент держал звонок на удержании',
};

// How a ring ended. The first six are what the line writes; `cancelled`, `failed` and
// `answered_late` are older rows' words (`cancelled` then meant a ring timeout or a caller
// who left, which are now told apart).
export const RING_RESULTS = {
  answered: 'Ответил',
  no_answer: 'Не ответил',
  caller_gone: 'Абонент положил трубку',
  busy: 'Занято',
  declined: 'Отклонил',
  error: 'Ошибка',
  cancelled: 'Вызов снят',
  failed: 'Ошибка',
  answered_late: 'Ответил слишком поздно',
};

export const HANGUP_BY = { caller: 'абонент', operator: 'оператор', system: 'система' };

/** A label for a code, or the code itself when there is none (never an empty cell). */
export function label(map, code) {
  if (code === null || code === undefined || code === '') return '—';
  return map[code] || code;
}

/** "24.11.2026, 18:21:47" in the line's zone. */
export function dateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat('ru-RU', {
    timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).format(d);
}

/** "18:21:47" in the line's zone. */
export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat('ru-RU', {
    timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).format(d);
}

/** "24.11" or "24.11.2026" for a register day `YYYY-MM-DD`. */
export function day(ymd, withYear = false) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd || '');
  if (!m) return ymd || '—';
  return withYear ? `${m[3]}.${m[2]}.${m[1]}` : `${m[3]}.${m[2]}`;
}

/** Milliseconds as "m:ss" (or "h:mm:ss"); "—" when unknown. */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  const total = Math.max(0, Math.round(ms / 1000));
  const hh = Math.floor(total / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = String(total % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** A share 0..1 as "87 %"; "—" when there is none. */
export function percent(share) {
  if (share === null || share === undefined || Number.isNaN(share)) return '—';
  return `${Math.round(share * 100)} %`;
}

/** Today's date in the line's zone, `YYYY-MM-DD`. */
export function today() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date());
}

/** `YYYY-MM-DD` plus `n` days (calendar arithmetic, no zone involved). */
export function addDays(ymd, n) {
  const [y, m, d] = ymd.split('-').map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + n));
  return t.toISOString().slice(0, 10);
}

/** Bytes as "1,2 МБ". */
export function size(bytes) {
  if (bytes === null || bytes === undefined) return '—';
  if (bytes < 1024) return `${bytes} Б`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1).replace('.', ',')} КБ`;
  return `${(bytes / 1024 / 1024).toFixed(1).replace('.', ',')} МБ`;
}
