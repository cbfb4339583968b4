/* tracker dashboard: one page over the query API (swagger.yaml), no build step.
 *
 * Pages live in the URL's hash, with the time range and the filters, so a
 * view can be shared or bookmarked:
 *   #/                    overview
 *   #/principal/NAME      one principal
 *   #/service/NAME        one service
 *   #/search?FILTERS      events matching any combination of the lookups
 *   #/alerts?rule&level   what the detection rules found (GET /alerts)
 * The range is `range=24h|7d|30d|90d` or `from=YYYY-MM-DD&to=YYYY-MM-DD`
 * (custom; `to` is included, as the API reads a date-only `to`).
 *
 * Every API call is relative to the page's <base> (set by the server), so the
 * page works at `/` and under an API Gateway stage (`/v1/`). With an API key,
 * the key is asked for once, kept in sessionStorage (this tab only) and sent
 * as `x-api-key`. Text from the API only ever reaches the page through
 * textContent and attributes, never as HTML.
 */
(function () {
  'use strict';

  const KEY_STORAGE = 'tracker.apiKey';
  const PAGE_SIZE = 50;
  const TOP = 10;
  const ALERT_TILE_LIMIT = 1000;
  const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'];
  const DAY_MS = 86400000;
  const PRESETS = { '24h': 1, '7d': 7, '30d': 30, '90d': 90 };
  const DEFAULT_PRESET = '7d';
  const EVERYTHING_FROM = '2000-01-01';
  const number = new Intl.NumberFormat('en-US');

  const view = document.getElementById('view');
  const statusLine = document.getElementById('status');
  let firstRoute = true;
  let routeSeq = 0;

  // ------------------------------------------------------------ DOM helpers

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.setAttribute('class', v);
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }

  function append(el, children) {
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
  }

  function announce(text) {
    statusLine.textContent = text;
  }

  // ------------------------------------------------------------ URL state

  function parseHash() {
    const raw = location.hash.replace(/^#/, '') || '/';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    const parts = path.split('/').filter(Boolean).map(safeDecode);
    return { page: parts[0] || 'overview', arg: parts.slice(1).join('/'), params };
  }

  function safeDecode(text) {
    try {
      return decodeURIComponent(text);
    } catch (_) {
      return text;
    }
  }

  /** A link to a page, keeping the range of `ctx` and adding `extra`. */
  function link(ctx, page, arg, extra) {
    const params = rangeParams(ctx.range);
    for (const [k, v] of Object.entries(extra || {})) if (v) params.set(k, v);
    let path = '#/' + (page === 'overview' ? '' : page);
    if (arg) path += '/' + encodeURIComponent(arg);
    const qs = params.toString();
    return qs ? path + '?' + qs : path;
  }

  const isDay = (text) => /^\d{4}-\d{2}-\d{2}$/.test(text || '');
  const isoDay = (date) => date.toISOString().slice(0, 10);

  function rangeOf(params) {
    const from = params.get('from');
    const to = params.get('to');
    if (isDay(from) && isDay(to)) return { custom: true, from, to };
    const preset = PRESETS[params.get('range')] ? params.get('range') : DEFAULT_PRESET;
    return { custom: false, preset };
  }

  function rangeParams(range) {
    const params = new URLSearchParams();
    if (range.custom) {
      params.set('from', range.from);
      params.set('to', range.to);
    } else {
      params.set('range', range.preset);
    }
    return params;
  }

  /** What the API is asked (`from`, `to`) and the days a chart spans. */
  function windowOf(range, now) {
    if (range.custom) {
      return { from: range.from, to: range.to, firstDay: range.from, lastDay: range.to };
    }
    const start = new Date(now - PRESETS[range.preset] * DAY_MS);
    const end = new Date(now);
    return {
      from: start.toISOString(),
      to: end.toISOString(),
      firstDay: isoDay(start),
      lastDay: isoDay(end),
    };
  }

  function describeWindow(ctx) {
    if (ctx.range.custom) return `${ctx.range.from} to ${ctx.range.to} (UTC, both days included)`;
    const labels = { '24h': 'Last 24 hours', '7d': 'Last 7 days', '30d': 'Last 30 days', '90d': 'Last 90 days' };
    const at = ctx.window.to.slice(0, 16).replace('T', ' ');
    return `${labels[ctx.range.preset]}, until ${at} UTC`;
  }

  // ------------------------------------------------------------ the API

  class ApiError extends Error {
    constructor(kind, status, message) {
      super(message);
      this.kind = kind; // key | iam | unreachable | bad | server
      this.status = status;
    }
  }

  /** GET a route (relative to <base>) with query parameters: `{body, next}`,
   * where `next` is the query string of the Link rel="next" page, if any. */
  async function api(path, params) {
    const query = params instanceof URLSearchParams ? params : new URLSearchParams(clean(params));
    const qs = query.toString();
    const headers = { Accept: 'application/json' };
    const key = storedKey();
    if (key) headers['x-api-key'] = key;
    let response;
    try {
      response = await fetch(qs ? `${path}?${qs}` : path, { headers, cache: 'no-store' });
    } catch (error) {
      throw new ApiError('unreachable', 0, String((error && error.message) || error));
    }
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (_) {
      body = null;
    }
    if (response.ok) {
      if (body === null) throw new ApiError('server', response.status, 'the API answered something that is not JSON');
      return { body, next: nextPage(response.headers.get('link')) };
    }
    const message = (body && (body.error || body.message)) || text || response.statusText;
    if (response.status === 401 || response.status === 403) {
      const iam = /authentication token|authorization header|signature|security token|not authorized to perform/i;
      throw new ApiError(iam.test(message) && !/x-api-key/i.test(message) ? 'iam' : 'key', response.status, message);
    }
    if (response.status >= 400 && response.status < 500) throw new ApiError('bad', response.status, message);
    throw new ApiError('server', response.status, message);
  }

  function clean(params) {
    const out = {};
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') out[k] = String(v);
    return out;
  }

  function nextPage(header) {
    const match = /<([^>]*)>\s*;\s*rel="?next"?/.exec(header || '');
    if (!match) return null;
    try {
      return new URLSearchParams(new URL(match[1], document.baseURI).search);
    } catch (_) {
      return null;
    }
  }

  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_STORAGE) || '';
    } catch (_) {
      return '';
    }
  }

  function apiBase() {
    return new URL('.', document.baseURI).href;
  }

  // ------------------------------------------------------------ pieces

  function pageHead(ctx, title, subject, actions) {
    const h1 = h('h1', { tabindex: '-1' }, title, subject ? h('span', { class: 'subject', text: subject }) : null);
    return h('div', { class: 'page-head' }, h('div', {}, h1, h('p', { class: 'muted', text: describeWindow(ctx) })), actions || null);
  }

  function tiles(specs) {
    const row = h('div', { class: 'tiles' });
    const cells = {};
    for (const spec of specs) {
      const value = h('span', { class: 'tile-value', text: '…' });
      const tile = h(spec.href ? 'a' : 'div', { class: 'tile', id: `tile-${spec.id}`, href: spec.href },
        h('span', { class: 'tile-label', text: spec.label }), value);
      cells[spec.id] = value;
      row.append(tile);
    }
    return {
      el: row,
      set(id, n, more) {
        cells[id].textContent = number.format(n) + (more || '');
        cells[id].dataset.value = String(n);
      },
    };
  }

  /** A card with a top list: each key a link, with its count and a bar. */
  function listCard(kind, title, linkOf) {
    const heading = h('h2', { id: `list-${kind}-title` }, title);
    const list = h('ol', { class: 'top' }, h('li', { class: 'placeholder', text: 'Loading…' }));
    const card = h('section', { class: 'card list', 'data-list': kind, 'aria-labelledby': heading.id }, heading, list);
    return {
      el: card,
      fill(stats) {
        heading.replaceChildren(title, ' ', h('span', { class: 'muted', text: `(${number.format(stats.distinct)})` }));
        if (!stats.items.length) {
          list.replaceChildren(h('li', { class: 'placeholder', text: 'None in this range' }));
          return;
        }
        const max = stats.items[0].count || 1;
        list.replaceChildren(
          ...stats.items.map((item) => {
            const bar = h('span', { class: 'fill' });
            bar.style.width = `${Math.max(1, (100 * item.count) / max)}%`;
            return h('li', {},
              h('a', { href: linkOf(item.key), title: item.key, text: item.key }),
              h('span', { class: 'count', 'data-value': item.count, text: number.format(item.count) }),
              h('span', { class: 'meter', 'aria-hidden': 'true' }, bar));
          }),
        );
      },
    };
  }

  /** Events per day (or week, or month on long ranges) as SVG bars, with the
   * same numbers as a table for screen readers and for copying. */
  function chartCard(title) {
    const heading = h('h2', { text: title });
    const area = h('div', { class: 'chart' }, h('p', { class: 'placeholder', text: 'Loading…' }));
    const details = h('details', { class: 'chart-table' });
    const card = h('section', { class: 'card', id: 'daily' }, heading, area, details);
    return {
      el: card,
      fill(days, win) {
        const series = buckets(days, win.firstDay, win.lastDay);
        heading.textContent = `${title} per ${series.unit}`;
        area.replaceChildren(drawBars(series, area.clientWidth || 800));
        const rows = series.buckets.filter((b) => b.count > 0);
        details.replaceChildren(
          h('summary', { text: `Show as a table (${rows.length} ${series.unit}s with events)` }),
          h('table', {},
            h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: series.unit === 'day' ? 'Day' : `${series.unit} starting` }), h('th', { scope: 'col', class: 'num', text: 'Events' }))),
            h('tbody', {}, rows.map((b) => h('tr', {}, h('td', { text: b.label }), h('td', { class: 'num', 'data-value': b.count, text: number.format(b.count) }))))),
        );
      },
    };
  }

  function buckets(days, firstDay, lastDay) {
    const start = Date.parse(`${firstDay}T00:00:00Z`);
    const end = Date.parse(`${lastDay}T00:00:00Z`);
    const span = Math.max(1, Math.round((end - start) / DAY_MS) + 1);
    const unit = span <= 120 ? 'day' : span <= 3 * 366 ? 'week' : 'month';
    const keyOf = (ms) => {
      const d = new Date(ms);
      if (unit === 'day') return isoDay(d);
      if (unit === 'week') return isoDay(new Date(ms - ((d.getUTCDay() + 6) % 7) * DAY_MS));
      return isoDay(d).slice(0, 7);
    };
    const order = [];
    const counts = new Map();
    for (let ms = start; ms <= end; ms += DAY_MS) {
      const key = keyOf(ms);
      if (!counts.has(key)) {
        counts.set(key, 0);
        order.push(key);
      }
    }
    for (const { day, count } of days) {
      const ms = Date.parse(`${day}T00:00:00Z`);
      const key = keyOf(ms);
      if (counts.has(key)) counts.set(key, counts.get(key) + count);
    }
    return { unit, buckets: order.map((label) => ({ label, count: counts.get(label) })) };
  }

  /** The smallest 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10^k at least `n`,
   * so that the axis reads in round numbers. */
  function niceCeiling(n) {
    const power = 10 ** Math.floor(Math.log10(n));
    const step = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((m) => m * power >= n);
    return Math.max(2, step * power);
  }

  function drawBars(series, width) {
    const W = Math.max(320, Math.floor(width));
    const H = 190;
    const left = 48;
    const bottom = 24;
    const top = 10;
    const plotW = W - left - 8;
    const plotH = H - top - bottom;
    const n = series.buckets.length;
    const max = niceCeiling(Math.max(1, ...series.buckets.map((b) => b.count)));
    const step = plotW / n;
    const gap = step > 6 ? Math.min(4, step * 0.2) : 0;
    const total = series.buckets.reduce((a, b) => a + b.count, 0);
    const busiest = series.buckets.reduce((a, b) => (b.count > a.count ? b : a), series.buckets[0]);
    const chart = svg('svg', {
      width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img',
      'aria-label': `${number.format(total)} events over ${n} ${series.unit}s; the busiest, ${busiest.label}, had ${number.format(busiest.count)}`,
    });
    for (const fraction of [0, 0.5, 1]) {
      const y = top + plotH - fraction * plotH;
      chart.append(svg('line', { x1: left, x2: W - 8, y1: y, y2: y, class: 'grid' }));
      chart.append(svg('text', { x: left - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' }, number.format(Math.round(fraction * max))));
    }
    series.buckets.forEach((b, i) => {
      if (!b.count) return;
      const barH = Math.max(2, (b.count / max) * plotH);
      const rect = svg('rect', { x: left + i * step + gap / 2, y: top + plotH - barH, width: Math.max(1, step - gap), height: barH, class: 'bar' },
        svg('title', {}, `${b.label}: ${number.format(b.count)} events`));
      chart.append(rect);
    });
    const labelAt = (i, anchor) => svg('text', { x: left + (i + 0.5) * step, y: H - 6, class: 'axis', 'text-anchor': anchor }, series.buckets[i].label);
    chart.append(labelAt(0, n === 1 ? 'middle' : 'start'));
    if (n > 2) chart.append(labelAt(Math.floor(n / 2), 'middle'));
    if (n > 1) chart.append(labelAt(n - 1, 'end'));
    return chart;
  }

  /** A paged table of events from an event route: 50 at a time, following
   * the Link header, with the total from `count=true`. */
  const COLUMNS = [['time', 'Time (UTC)'], ['event', 'Event'], ['principal', 'Principal'], ['service', 'Service'], ['ip', 'Source IP'], ['region', 'Region'], ['error', 'Error']];

  function eventsCard(ctx, path, params, title, omit) {
    const heading = h('h2', { text: title });
    const summary = h('p', { class: 'muted', 'aria-live': 'polite', text: 'Loading…' });
    const body = h('tbody', {});
    const table = h('table', { class: 'events' },
      h('thead', {}, h('tr', {}, COLUMNS.filter(([key]) => key !== omit).map(([, t]) => h('th', { scope: 'col', text: t })))),
      body);
    const prev = h('button', { type: 'button', disabled: true, text: '← Previous' });
    const next = h('button', { type: 'button', disabled: true, text: 'Next →' });
    const pager = h('div', { class: 'pager' }, prev, next);
    const card = h('section', { class: 'card', id: 'events' }, heading, summary, h('div', { class: 'table-wrap' }, table), pager);
    const first = new URLSearchParams(clean(params));
    first.set('limit', String(PAGE_SIZE));
    const pages = [first];
    let index = 0;
    let nextQuery = null;
    let total = null;

    async function show(i) {
      prev.disabled = true;
      next.disabled = true;
      card.setAttribute('aria-busy', 'true');
      const { body: events, next: following } = await api(path, pages[i]);
      index = i;
      nextQuery = following;
      if (following) pages[i + 1] = following;
      body.replaceChildren(...events.map((e) => eventRow(ctx, e, omit)));
      if (!events.length) body.append(h('tr', {}, h('td', { colspan: String(COLUMNS.length), class: 'placeholder', text: 'No events match.' })));
      const from = i * PAGE_SIZE + 1;
      const to = i * PAGE_SIZE + events.length;
      summary.textContent = events.length
        ? `Events ${number.format(from)}–${number.format(to)}${total === null ? '' : ` of ${number.format(total)}`}`
        : 'No events match.';
      summary.dataset.total = total === null ? '' : String(total);
      prev.disabled = index === 0;
      next.disabled = !nextQuery;
      card.removeAttribute('aria-busy');
    }

    async function load() {
      const counted = new URLSearchParams(clean(params));
      counted.set('count', 'true');
      const [count] = await Promise.all([api(path, counted), show(0)]);
      total = count.body;
      const shown = body.querySelectorAll('tr.event').length;
      if (shown) summary.textContent = `Events 1–${number.format(shown)} of ${number.format(total)}`;
      summary.dataset.total = String(total);
      return total;
    }

    const guard = (fn) => () => fn().catch((error) => showError(card, error));
    prev.addEventListener('click', guard(() => show(index - 1)));
    next.addEventListener('click', guard(() => show(index + 1)));
    return { el: card, load };
  }

  function eventRow(ctx, e, omit) {
    const service = (e.eventSource || '').replace(/\.amazonaws\.com$/, '');
    const open = h('button', { type: 'button', class: 'link', title: `Open the record ${e.eventID}`, text: e.eventName || '(unnamed)' });
    open.addEventListener('click', () => openRecord(e.eventID, e.eventName));
    const principal = e.userIdentity_userName || '(none)';
    const cells = {
      time: h('td', { class: 'time', text: (e.eventTime || '').replace('T', ' ').replace(/(\.\d+)?Z$/, '') }),
      event: h('td', { class: 'name' }, open),
      principal: h('td', { class: 'clip' }, h('a', { href: link(ctx, 'principal', principal), title: principal, text: principal })),
      service: h('td', {}, service ? h('a', { href: link(ctx, 'service', service), text: service }) : ''),
      ip: h('td', { text: e.sourceIPAddress || '' }),
      region: h('td', { text: e.awsRegion || '' }),
      error: h('td', { class: e.errorCode ? 'error-code' : '' }, breakable(e.errorCode || '')),
    };
    return h('tr', { class: 'event', 'data-event-id': e.eventID }, COLUMNS.filter(([key]) => key !== omit).map(([key]) => cells[key]));
  }

  /** Text that may wrap after each dot (`Client.UnauthorizedOperation`). */
  function breakable(text) {
    return text.split(/(?<=\.)/).flatMap((part, i) => (i ? [h('wbr'), part] : [part]));
  }

  async function openRecord(id, name) {
    const dialog = document.getElementById('record');
    const pre = document.getElementById('record-body');
    document.getElementById('record-title').textContent = `${name || 'Event'} · ${id}`;
    pre.textContent = 'Loading…';
    dialog.dataset.state = 'loading';
    if (!dialog.open) dialog.showModal();
    try {
      const { body } = await api(`events/${encodeURIComponent(id)}`);
      pre.textContent = JSON.stringify(body, null, 2);
      dialog.dataset.state = 'ready';
    } catch (error) {
      pre.textContent = `Could not load this record: ${error.message}`;
      dialog.dataset.state = 'error';
    }
  }

  // ------------------------------------------------------------ errors

  /** Replaces `where` (the whole view for auth and network problems) with
   * what went wrong and what to do about it. */
  function showError(where, error) {
    if (!(error instanceof ApiError)) {
      console.warn(error); // a bug of this page: say so rather than show nothing
      error = new ApiError('server', 0, String(error && error.message ? error.message : error));
    }
    if (error.kind === 'key') return askForKey(Boolean(storedKey()), error.message);
    const panel = h('div', { class: 'panel problem', role: 'alert' });
    const retry = h('button', { type: 'button', text: 'Try again', onclick: () => route() });
    if (error.kind === 'iam') {
      panel.append(
        h('h2', { text: 'This API needs AWS credentials' }),
        h('p', { text: 'It was deployed with api.auth = "iam": every call must be signed with AWS credentials (SigV4), which a browser cannot do.' }),
        h('p', {}, 'Run ', h('code', { text: 'tracker ui' }), ' on your machine: it serves this dashboard on 127.0.0.1 and signs its calls with your AWS credentials.'),
        h('p', { class: 'muted', text: `The API said: ${error.message}` }));
    } else if (error.kind === 'unreachable') {
      panel.append(
        h('h2', { text: 'Cannot reach the tracker API' }),
        h('p', { text: `The page could not reach ${apiBase()}.` }),
        h('p', {}, 'If you run tracker on this machine, check that ', h('code', { text: 'tracker serve' }), ' (or ', h('code', { text: 'tracker ui' }), ') is still running; otherwise check your network connection.'),
        retry);
    } else if (error.kind === 'bad') {
      panel.append(h('h2', { text: 'The API refused this request' }), h('p', { text: error.message }),
        h('p', { class: 'muted', text: 'Check the range and the filters in the address, or go back to the overview.' }),
        h('p', {}, h('a', { href: '#/', text: 'Overview' })));
    } else {
      panel.append(h('h2', { text: 'The API failed to answer' }), h('p', { text: `${error.status ? `HTTP ${error.status}: ` : ''}${error.message}` }),
        h('p', { class: 'muted', text: 'This is usually temporary (a throttled table, a cold start).' }), retry);
    }
    const whole = where === view || ['iam', 'unreachable'].includes(error.kind);
    (whole ? view : where).replaceChildren(panel);
    if (whole) document.body.dataset.state = 'error';
    announce(panel.querySelector('h2').textContent);
  }

  function askForKey(refused, message) {
    const input = h('input', { type: 'password', id: 'api-key', name: 'api-key', autocomplete: 'off', spellcheck: 'false', required: true });
    const form = h('form', { class: 'key-form' },
      h('label', { for: 'api-key', text: 'API key' }), input, h('button', { type: 'submit', text: 'Use this key' }));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      try {
        sessionStorage.setItem(KEY_STORAGE, key);
      } catch (_) {
        /* storage disabled: the key lasts until the page is reloaded */
      }
      route();
    });
    const panel = h('div', { class: 'panel key', role: 'alert' },
      h('h2', { text: refused ? 'The API key was refused' : 'This tracker needs an API key' }),
      h('p', {
        text: refused
          ? 'The API did not accept the key this tab holds. Check it and enter it again.'
          : 'The data routes of this tracker are protected by an API key. Enter it to continue.',
      }),
      form,
      h('p', { class: 'muted', text: 'The key is kept in this browser tab only (sessionStorage) and sent as the x-api-key header. On AWS: aws apigateway get-api-key --api-key ID --include-value (tracker deploy prints the command).' }),
      refused ? h('p', { class: 'muted', text: `The API said: ${message}` }) : null);
    if (refused) {
      try {
        sessionStorage.removeItem(KEY_STORAGE);
      } catch (_) {
        /* nothing stored */
      }
    }
    view.replaceChildren(panel);
    document.body.dataset.state = 'need-key';
    syncKeyButton();
    announce(panel.querySelector('h2').textContent);
    input.focus();
  }

  function emptyPanel(ctx) {
    const everything = new URLSearchParams(ctx.params);
    everything.delete('range');
    everything.set('from', EVERYTHING_FROM);
    everything.set('to', isoDay(new Date()));
    const longer = new URLSearchParams(ctx.params);
    longer.delete('from');
    longer.delete('to');
    longer.set('range', '90d');
    const here = `#/${ctx.page === 'overview' ? '' : ctx.page}${ctx.arg ? `/${encodeURIComponent(ctx.arg)}` : ''}`;
    return h('div', { class: 'panel empty', id: 'empty' },
      h('h2', { text: 'No events in this range' }),
      h('p', { text: `Nothing was recorded ${ctx.range.custom ? `from ${ctx.range.from} to ${ctx.range.to}` : `in the ${describeWindow(ctx).toLowerCase()}`}.` }),
      h('p', { class: 'muted', text: 'CloudTrail delivers log files about every 5 minutes, and tracker holds only what was ingested (tracker backfill loads older logs). Logs you loaded may be older: try a longer range.' }),
      h('p', { class: 'actions' },
        ctx.range.custom || ctx.range.preset !== '90d' ? h('a', { class: 'button', href: `${here}?${longer}`, text: 'Last 90 days' }) : null,
        h('a', { class: 'button', href: `${here}?${everything}`, text: `Everything since ${EVERYTHING_FROM}` })));
  }

  // ------------------------------------------------------------ pages

  const stats = (ctx, by, extra) => api('stats', { from: ctx.window.from, to: ctx.window.to, by, top: TOP, ...extra }).then((r) => r.body);
  const daily = (ctx, extra) => api('stats/daily', { from: ctx.window.from, to: ctx.window.to, ...extra }).then((r) => r.body);

  async function overviewPage(ctx) {
    const t = tiles([
      { id: 'events', label: 'Events' },
      { id: 'principals', label: 'Principals' },
      { id: 'services', label: 'Services' },
      { id: 'failed', label: 'Failed calls', href: link(ctx, 'search', '', { errorCode: '*' }) },
      { id: 'alerts', label: 'Alerts', href: link(ctx, 'alerts', '') },
    ]);
    const chart = chartCard('Events');
    const search = (field) => (key) => link(ctx, 'search', '', { [field]: key });
    const lists = {
      principal: listCard('principal', 'Top principals', (key) => link(ctx, 'principal', key)),
      service: listCard('service', 'Services', (key) => link(ctx, 'service', key)),
      eventName: listCard('eventName', 'Event names', search('eventName')),
      errorCode: listCard('errorCode', 'Error codes', search('errorCode')),
      sourceIPAddress: listCard('sourceIPAddress', 'Source IPs', search('sourceIPAddress')),
      accessKeyId: listCard('accessKeyId', 'Access keys', search('accessKeyId')),
    };
    const body = h('div', {}, chart.el, h('div', { class: 'lists' }, Object.values(lists).map((l) => l.el)));
    view.replaceChildren(pageHead(ctx, 'Overview'), t.el, body);
    // Alerts have no count route: the tile counts up to a page of them.
    const alerts = api('alerts', { from: ctx.window.from, to: ctx.window.to, limit: ALERT_TILE_LIMIT })
      .then((r) => t.set('alerts', r.body.length, r.next ? '+' : ''));
    alerts.catch(() => {}); // reported by the statistics' failure, or awaited below
    const [byPrincipal, byService, byName, byError, byIp, byKey, days] = await Promise.all([
      stats(ctx, 'principal'),
      stats(ctx, 'service'),
      stats(ctx, 'eventName'),
      stats(ctx, 'errorCode', { errorCode: '*' }),
      stats(ctx, 'sourceIPAddress'),
      stats(ctx, 'accessKeyId'),
      daily(ctx),
    ]);
    t.set('events', byPrincipal.total);
    t.set('principals', byPrincipal.distinct);
    t.set('services', byService.distinct);
    t.set('failed', byError.total);
    if (!byPrincipal.total) {
      body.replaceChildren(emptyPanel(ctx));
      return;
    }
    chart.fill(days.days, ctx.window);
    lists.principal.fill(byPrincipal);
    lists.service.fill(byService);
    lists.eventName.fill(byName);
    lists.errorCode.fill(byError);
    lists.sourceIPAddress.fill(byIp);
    lists.accessKeyId.fill(byKey);
    await alerts;
  }

  /** The page of one principal or one service. */
  async function subjectPage(ctx, kind) {
    const subject = ctx.arg;
    const scope = kind === 'principal' ? { user: subject } : { service: subject };
    const route = kind === 'principal' ? `users/${encodeURIComponent(subject)}` : `services/${encodeURIComponent(subject)}`;
    const other = kind === 'principal'
      ? { id: 'services', label: 'Services', by: 'service' }
      : { id: 'principals', label: 'Principals', by: 'principal' };
    const t = tiles([
      { id: 'events', label: 'Events' },
      { id: other.id, label: other.label },
      { id: 'event-names', label: 'Event names' },
      { id: 'failed', label: 'Failed calls', href: link(ctx, 'search', '', { ...scope, errorCode: '*' }) },
    ]);
    const chart = chartCard('Events');
    const search = (field) => (key) => link(ctx, 'search', '', { ...scope, [field]: key });
    const lists = kind === 'principal'
      ? {
          service: listCard('service', 'Services', (key) => link(ctx, 'service', key)),
          eventName: listCard('eventName', 'Event names', search('eventName')),
          sourceIPAddress: listCard('sourceIPAddress', 'Source IPs', search('sourceIPAddress')),
          accessKeyId: listCard('accessKeyId', 'Access keys', search('accessKeyId')),
          errorCode: listCard('errorCode', 'Errors', search('errorCode')),
        }
      : {
          principal: listCard('principal', 'Principals', (key) => link(ctx, 'principal', key)),
          eventName: listCard('eventName', 'Event names', search('eventName')),
          sourceIPAddress: listCard('sourceIPAddress', 'Source IPs', search('sourceIPAddress')),
          errorCode: listCard('errorCode', 'Errors', search('errorCode')),
        };
    const events = eventsCard(ctx, route, { from: ctx.window.from, to: ctx.window.to }, kind === 'principal' ? 'Its events' : 'Events', kind);
    const searchLink = h('a', { class: 'button', href: link(ctx, 'search', '', scope), text: 'Search its events' });
    const body = h('div', {}, chart.el, h('div', { class: 'lists' }, Object.values(lists).map((l) => l.el)), events.el);
    view.replaceChildren(pageHead(ctx, kind === 'principal' ? 'Principal' : 'Service', subject, searchLink), t.el, body);
    const keys = Object.keys(lists);
    const [days, ...each] = await Promise.all([
      daily(ctx, scope),
      ...keys.map((by) => stats(ctx, by, by === 'errorCode' ? { ...scope, errorCode: '*' } : scope)),
    ]);
    const of = (by) => each[keys.indexOf(by)];
    const [byName, byOther, byError] = [of('eventName'), of(other.by), of('errorCode')];
    t.set('events', byName.total);
    t.set(other.id, byOther.distinct);
    t.set('event-names', byName.distinct);
    t.set('failed', byError.total);
    if (!byName.total) {
      body.replaceChildren(emptyPanel(ctx));
      return;
    }
    chart.fill(days.days, ctx.window);
    Object.values(lists).forEach((l, i) => l.fill(each[i]));
    await events.load();
  }

  const FILTERS = [
    ['user', 'Principal', 'alice, or a role ARN'],
    ['service', 'Service', 'ec2'],
    ['eventName', 'Event name', 'RunInstances (a,b: either)'],
    ['eventSource', 'Event source', 'ec2.amazonaws.com'],
    ['readOnly', 'Read-only', null],
    ['errorCode', 'Error code', 'AccessDenied, or * for any'],
    ['sourceIPAddress', 'Source IP', '203.0.113.7'],
    ['accessKeyId', 'Access key', 'AKIA…'],
    ['resourceName', 'Resource ARN', 'arn:aws:s3:::bucket'],
    ['resourceType', 'Resource type', 'AWS::S3::Bucket'],
    ['region', 'Region', 'us-east-1'],
    ['account', 'Account', '123456789012'],
    ['sessionName', 'Session name', ''],
    ['param', 'Parameter', 'requestParameters.instanceType'],
    ['value', 'Parameter value', 't2.micro'],
  ];

  async function searchPage(ctx) {
    const values = {};
    for (const [name] of FILTERS) values[name] = ctx.params.get(name) || '';
    const fields = FILTERS.map(([name, label, hint]) => {
      const id = `f-${name}`;
      const input = hint === null
        ? h('select', { id, name }, [['', 'any'], ['true', 'read-only'], ['false', 'changes (not read-only)']].map(([v, t]) => h('option', { value: v, selected: values[name] === v, text: t })))
        : h('input', { id, name, type: 'text', value: values[name], placeholder: hint, autocomplete: 'off', spellcheck: 'false' });
      return h('div', { class: 'field' }, h('label', { for: id, text: label }), input);
    });
    const form = h('form', { class: 'card search-form', 'aria-label': 'Filters' },
      h('div', { class: 'fields' }, fields),
      h('div', { class: 'actions' }, h('button', { type: 'submit', text: 'Search' }), h('a', { href: link(ctx, 'search', ''), text: 'Clear' })));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const extra = {};
      for (const [name] of FILTERS) extra[name] = form.elements[name].value.trim();
      location.hash = link(ctx, 'search', '', extra);
    });
    const query = { from: ctx.window.from, to: ctx.window.to };
    for (const [name] of FILTERS) if (!['user', 'service'].includes(name) && values[name]) query[name] = values[name];
    let route = 'scan';
    if (values.user) {
      route = `users/${encodeURIComponent(values.user)}`;
      // Both: the principal's route, the service as its event source.
      if (values.service && !query.eventSource) query.eventSource = values.service.includes('.') ? values.service : `${values.service}.amazonaws.com`;
    } else if (values.service) {
      route = `services/${encodeURIComponent(values.service)}`;
    }
    const events = eventsCard(ctx, route, query, 'Matching events');
    view.replaceChildren(pageHead(ctx, 'Search'), form, events.el);
    await events.load();
  }

  /** What the detection rules found in the range: `rule` (a rule's id) and
   * `level` (a minimum) filter; pages follow the API's Link. */
  async function alertsPage(ctx) {
    const rule = ctx.params.get('rule') || '';
    const level = LEVELS.includes(ctx.params.get('level')) ? ctx.params.get('level') : '';
    const form = h('form', { class: 'card search-form', 'aria-label': 'Alert filters' },
      h('div', { class: 'fields' },
        h('div', { class: 'field' }, h('label', { for: 'f-rule', text: 'Rule id' }),
          h('input', { id: 'f-rule', name: 'rule', type: 'text', value: rule, placeholder: 'the rule\'s Sigma id', autocomplete: 'off', spellcheck: 'false' })),
        h('div', { class: 'field' }, h('label', { for: 'f-level', text: 'Level at least' }),
          h('select', { id: 'f-level', name: 'level' }, [['', 'any'], ...LEVELS.map((l) => [l, l])].map(([v, t]) => h('option', { value: v, selected: level === v, text: t }))))),
      h('div', { class: 'actions' }, h('button', { type: 'submit', text: 'Show' }), h('a', { href: link(ctx, 'alerts', ''), text: 'Clear' })));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      location.hash = link(ctx, 'alerts', '', { rule: form.elements.rule.value.trim(), level: form.elements.level.value });
    });
    const summary = h('p', { class: 'muted', 'aria-live': 'polite', text: 'Loading…' });
    const rows = h('tbody', {});
    const table = h('table', { class: 'events alerts' },
      h('thead', {}, h('tr', {}, ['Time (UTC)', 'Level', 'Rule', 'Event', 'Principal', 'Source IP'].map((t) => h('th', { scope: 'col', text: t })))),
      rows);
    const prev = h('button', { type: 'button', disabled: true, text: '← Previous' });
    const next = h('button', { type: 'button', disabled: true, text: 'Next →' });
    const card = h('section', { class: 'card', id: 'alerts' }, h('h2', { text: 'Alerts' }), summary,
      h('div', { class: 'table-wrap' }, table), h('div', { class: 'pager' }, prev, next));
    view.replaceChildren(pageHead(ctx, 'Alerts'), form, card);
    const pages = [new URLSearchParams(clean({ from: ctx.window.from, to: ctx.window.to, rule, level, limit: PAGE_SIZE }))];
    let index = 0;
    async function show(i) {
      prev.disabled = true;
      next.disabled = true;
      const { body: alerts, next: following } = await api('alerts', pages[i]);
      index = i;
      if (following) pages[i + 1] = following;
      rows.replaceChildren(...alerts.map((a) => alertRow(ctx, a)));
      if (!alerts.length) rows.append(h('tr', {}, h('td', { colspan: '6', class: 'placeholder', text: 'No alerts in this range.' })));
      summary.textContent = alerts.length
        ? `Alerts ${number.format(i * PAGE_SIZE + 1)}–${number.format(i * PAGE_SIZE + alerts.length)}${following ? ' (more follow)' : ''}`
        : 'No alerts in this range.';
      prev.disabled = index === 0;
      next.disabled = !following;
    }
    const guard = (fn) => () => fn().catch((error) => showError(card, error));
    prev.addEventListener('click', guard(() => show(index - 1)));
    next.addEventListener('click', guard(() => show(index + 1)));
    await show(0);
  }

  function alertRow(ctx, a) {
    const open = h('button', { type: 'button', class: 'link', title: `Open the record ${a.eventID}`, text: a.eventName || '(unnamed)' });
    open.addEventListener('click', () => openRecord(a.eventID, a.eventName));
    const about = [a.author && `by ${a.author}`, ...(a.references || [])].filter(Boolean).join('\n');
    return h('tr', { class: 'alert', 'data-rule-id': a.ruleId, 'data-event-id': a.eventID },
      h('td', { class: 'time', text: (a.eventTime || '').replace('T', ' ').replace(/(\.\d+)?Z$/, '') }),
      h('td', { class: `level level-${LEVELS.includes(a.level) ? a.level : 'other'}`, text: a.level }),
      h('td', { class: 'clip' }, h('a', { href: link(ctx, 'alerts', '', { rule: a.ruleId }), title: about || a.title, text: a.title })),
      h('td', { class: 'name' }, open),
      h('td', { class: 'clip' }, h('a', { href: link(ctx, 'principal', a.principal), title: a.principal, text: a.principal })),
      h('td', { text: a.sourceIPAddress || '' }));
  }

  const PAGES = {
    overview: { title: 'Overview', render: overviewPage },
    principal: { title: 'Principal', render: (ctx) => subjectPage(ctx, 'principal') },
    service: { title: 'Service', render: (ctx) => subjectPage(ctx, 'service') },
    search: { title: 'Search', render: searchPage },
    alerts: { title: 'Alerts', render: alertsPage },
  };

  // ------------------------------------------------------------ routing

  async function route() {
    const seq = ++routeSeq;
    const { page, arg, params } = parseHash();
    const spec = PAGES[page] && ((page !== 'principal' && page !== 'service') || arg) ? PAGES[page] : null;
    const range = rangeOf(params);
    const ctx = { page, arg, params, range, window: windowOf(range, Date.now()) };
    syncRangeForm(ctx);
    syncKeyButton();
    for (const a of document.querySelectorAll('nav a[data-nav]')) {
      const here = a.dataset.nav === page || (a.dataset.nav === 'overview' && !spec);
      if (here) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
      a.href = link(ctx, a.dataset.nav, '');
    }
    document.body.dataset.state = 'loading';
    announce('Loading…');
    if (!spec) {
      view.replaceChildren(h('div', { class: 'panel problem', role: 'alert' },
        h('h2', { text: 'No such page' }), h('p', {}, 'Go to the ', h('a', { href: link(ctx, 'overview', ''), text: 'overview' }), '.')));
      document.body.dataset.state = 'ready';
      return;
    }
    document.title = arg ? `${arg} · ${spec.title} · tracker` : `${spec.title} · tracker`;
    try {
      await spec.render(ctx);
      if (seq !== routeSeq) return;
      document.body.dataset.state = 'ready';
      announce(`${spec.title} loaded`);
    } catch (error) {
      if (seq !== routeSeq) return;
      showError(view, error);
    }
    if (!firstRoute) {
      const heading = view.querySelector('h1, h2');
      if (heading) {
        if (!heading.hasAttribute('tabindex')) heading.setAttribute('tabindex', '-1');
        heading.focus({ preventScroll: true });
      }
    }
    firstRoute = false;
  }

  function syncRangeForm(ctx) {
    const current = ctx.range.custom ? 'custom' : ctx.range.preset;
    for (const button of document.querySelectorAll('[data-preset]')) {
      button.setAttribute('aria-pressed', String(button.dataset.preset === current));
    }
    document.getElementById('custom-range').hidden = !ctx.range.custom;
    document.getElementById('range-from').value = ctx.window.firstDay;
    document.getElementById('range-to').value = ctx.window.lastDay;
    document.getElementById('range-text').textContent = ctx.range.custom ? '' : describeWindow(ctx);
  }

  function setRange(changes) {
    const { page, arg, params } = parseHash();
    for (const k of ['range', 'from', 'to']) params.delete(k);
    for (const [k, v] of Object.entries(changes)) params.set(k, v);
    const path = `#/${page === 'overview' ? '' : page}${arg ? `/${encodeURIComponent(arg)}` : ''}`;
    location.hash = `${path}?${params}`;
  }

  function syncKeyButton() {
    document.getElementById('forget-key').hidden = !storedKey();
  }

  function start() {
    // Relative URLs resolve against <base>; a page opened without its
    // trailing slash (`…/v1`) gets one, so that links stay on this page.
    if (!location.pathname.endsWith('/')) {
      history.replaceState(null, '', `${location.pathname}/${location.search}${location.hash}`);
    }
    for (const button of document.querySelectorAll('[data-preset]')) {
      button.addEventListener('click', () => {
        if (button.dataset.preset === 'custom') {
          document.getElementById('custom-range').hidden = false;
          document.getElementById('range-from').focus();
          return;
        }
        setRange({ range: button.dataset.preset });
      });
    }
    document.getElementById('range').addEventListener('submit', (event) => {
      event.preventDefault();
      const from = document.getElementById('range-from').value;
      const to = document.getElementById('range-to').value;
      if (!isDay(from) || !isDay(to)) return;
      if (from > to) {
        document.getElementById('range-text').textContent = '"From" must not be after "To".';
        return;
      }
      setRange({ from, to });
    });
    document.getElementById('forget-key').addEventListener('click', () => {
      try {
        sessionStorage.removeItem(KEY_STORAGE);
      } catch (_) {
        /* nothing stored */
      }
      route();
    });
    const dialog = document.getElementById('record');
    document.getElementById('record-close').addEventListener('click', () => dialog.close());
    dialog.addEventListener('click', (event) => {
      if (event.target === dialog) dialog.close(); // a click on the backdrop
    });
    window.addEventListener('hashchange', route);
    route();
  }

  start();
})();
