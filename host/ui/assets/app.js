// praetor web UI: one plain ES module, no build step, no dependencies.
// Every string that comes from the API reaches the page as a text node (through h() or
// textContent), never through innerHTML.

const TOKEN_KEY = 'praetor:token';
const CAS_FAILED =
  'The key was changed by someone else since you loaded it (CAS failed); reload to see the current value.';
const REASONS = { // for HTTP/2, which carries no status text
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  413: 'Payload Too Large', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };
const MEMBER_STATUS = { 0: ['none', 'unknown'], 1: ['alive', 'passing'], 2: ['leaving', 'warning'], 3: ['left', 'unknown'], 4: ['failed', 'critical'] };

const app = {
  dcs: null, // names from /v1/catalog/datacenters, RTT order
  dcsPromise: null,
  unreachable: new Set(),
  routesCheckedAt: 0,
  ctrl: null, // AbortController of the current page
  route: null,
  path: null, // pathname + search of the page shown
  flash: null, // status text shown once on the next page
  self: new Map(), // token -> {AccessorID, Description}, {failed: true}, or null while asked
  started: false,
};

/* ---------- DOM helpers ---------- */

const PROPS = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'open', 'required']);

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function appendAll(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false || c === true) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** h('a', {href: '/x', class: 'y'}, 'text', childNode, [more]) */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  appendAll(el, children); // children first, so a <select>'s value can pick an option
  setAttrs(el, attrs);
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  appendAll(el, children);
  setAttrs(el, attrs);
  return el;
}

/** Replaces a container's content, keeping keyboard focus (and the caret) on the element
 * with the same data-fk in the new content. */
function swap(container, ...nodes) {
  const active = document.activeElement;
  const fk = active && container.contains(active) ? active.getAttribute('data-fk') : null;
  let range = null;
  if (fk && typeof active.selectionStart === 'number') range = [active.selectionStart, active.selectionEnd];
  container.replaceChildren();
  appendAll(container, nodes);
  if (!fk) return;
  const next = container.querySelector(`[data-fk="${CSS.escape(fk)}"]`);
  if (!next) return;
  next.focus();
  if (range) {
    try { next.setSelectionRange(range[0], range[1]); } catch { /* not a text field */ }
  }
}

const link = (href, text, fk, attrs) => h('a', { href, 'data-fk': fk, ...attrs }, text);
const placeholder = () => h('div', { class: 'placeholder', 'data-placeholder': '' }, 'Loading…');
const dataArea = () => h('div', { class: 'data' }, placeholder());
const empty = (text) => h('p', { class: 'empty' }, text);
const muted = (text) => h('span', { class: 'muted' }, text);
const chip = (text, kind = 'tag') => h('span', { class: `chip chip-${kind}` }, text);
const statusP = (text) => h('p', { class: 'status-msg', 'data-test': 'status', role: 'status' }, text);
const sectionError = (text) => h('p', { class: 'section-error', 'data-test': 'section-error' }, text);

function section(id, title, ...content) {
  return h('section', { class: 'block', 'aria-labelledby': id }, h('h2', { id }, title), content);
}

function table(caption, headers, rows) {
  return h('div', { class: 'table-wrap' },
    h('table', null,
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', null, h('tr', null, headers.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, rows)));
}

function props(pairs) {
  return h('dl', { class: 'props' },
    pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v === '' || v == null ? muted('—') : v)]));
}

function tagList(tags) {
  const uniq = [...new Set(tags || [])];
  return uniq.length ? h('span', { class: 'chips' }, uniq.map((t) => chip(t))) : '';
}

function filterInput(id, label, onInput) {
  const input = h('input', { id, type: 'search', autocomplete: 'off', spellcheck: 'false', oninput: onInput });
  return { input, wrap: h('div', { class: 'toolbar' }, h('label', { for: id }, label), input) };
}

function labelled(id, label, control, hint) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('p', { class: 'hint' }, hint) : null);
}

/* ---------- formatting ---------- */

const enc = encodeURIComponent;
const encPath = (p) => p.split('/').map(enc).join('/');
function dec(s) {
  try { return decodeURIComponent(s); } catch { return s; }
}
const decPath = (p) => p.split('/').map(dec).join('/');
const uiUrl = (dc, rest) => `/ui/${enc(dc)}/${rest}`;
const byName = (list, key) => [...(list || [])].sort((a, b) => String(key(a) ?? '').localeCompare(String(key(b) ?? '')));

function statusClass(s) {
  return ['passing', 'warning', 'critical', 'maintenance'].includes(s) ? s : 'unknown';
}

function badge(status, label = status) {
  return h('span', { class: `status status-${statusClass(status)}` }, label || 'unknown');
}

function countStatuses(checks) {
  const n = { passing: 0, warning: 0, critical: 0 };
  for (const c of checks || []) if (c.Status in n) n[c.Status] += 1;
  return n;
}

function worstStatus(checks) {
  const n = countStatuses(checks);
  if (n.critical) return 'critical';
  if (n.warning) return 'warning';
  return (checks || []).length ? 'passing' : null;
}

function healthSummary(passing = 0, warning = 0, critical = 0) {
  const parts = [];
  if (passing) parts.push(badge('passing', `${passing} passing`));
  if (warning) parts.push(badge('warning', `${warning} warning`));
  if (critical) parts.push(badge('critical', `${critical} critical`));
  if (!parts.length) return muted('no checks');
  return h('span', { class: 'health' }, parts.flatMap((p, i) => (i ? [' · ', p] : [p])));
}

function healthOf(checks) {
  const n = countStatuses(checks);
  return healthSummary(n.passing, n.warning, n.critical);
}

/** A <time> for unix seconds or an RFC 3339 string. */
function fmtTime(t) {
  const d = new Date(typeof t === 'number' ? t * 1000 : t);
  if (!t || Number.isNaN(d.getTime())) return muted(t || '—');
  return h('time', { datetime: d.toISOString() }, d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }));
}

function fmtRtt(rtt) {
  return typeof rtt === 'number' && Number.isFinite(rtt) ? `${rtt.toFixed(1)} ms` : 'unknown';
}

function decodeValue(b64) {
  if (!b64) return '';
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new TextDecoder('utf-8').decode(bytes);
}

/* ---------- API ---------- */

class ApiError extends Error {
  constructor(status, statusText, body) {
    super(`${status} ${statusText}: ${body}`);
    this.status = status;
    this.body = body;
  }
}

class NetError extends Error {
  constructor(message) {
    super(`Cannot reach the agent: ${message}`);
  }
}

const isAbort = (e) => e && e.name === 'AbortError';
const isAclDisabled = (e) => e instanceof ApiError && e.status === 401 && /ACL support disabled/i.test(e.body);
const errText = (e) => (e && e.message) || String(e);

function storedToken() {
  try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

function qs(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === false) continue;
    parts.push(v === true ? enc(k) : `${enc(k)}=${enc(v)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** One API call. Resolves {data, index, status}; rejects with ApiError (non-2xx),
 * NetError (no answer) or an AbortError. opts: method, body, json, token, signal, allow404. */
async function api(path, params, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  const token = opts.token ?? storedToken();
  if (token) headers['X-Consul-Token'] = token;
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['Content-Type'] = 'application/json';
  }
  let res;
  let text;
  try {
    res = await fetch(path + qs(params), {
      method: opts.method || 'GET', headers, body, signal: opts.signal,
      credentials: 'same-origin', cache: 'no-store',
    });
    text = await res.text();
  } catch (e) {
    if (isAbort(e) || opts.signal?.aborted) throw e;
    throw new NetError(e.message || String(e));
  }
  const index = res.headers.get('X-Consul-Index');
  if (res.status === 404 && opts.allow404) return { data: null, index, status: 404 };
  if (!res.ok) throw new ApiError(res.status, res.statusText || REASONS[res.status] || 'Error', text.trim());
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  return { data, index, status: res.status };
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

/** Keeps a page fresh: reads once, then (blocking) re-reads with ?index=&wait=30s and calls
 * onData when the index moves, or (blocking: false) polls every `interval` ms. Errors show the
 * banner (unless onError returns true, or 'stop' to end the loop) and back off 2 s .. 15 s. */
async function live(ctx, path, params, onData, opts = {}) {
  const { blocking = true, interval = 10000, allow404 = false, onError } = opts;
  const source = opts.source || path;
  let index = null;
  let delay = 0;
  while (!ctx.signal.aborted) {
    let r;
    const started = Date.now();
    try {
      const p = blocking && index ? { ...params, index, wait: '30s' } : params;
      r = await api(path, p, { signal: ctx.signal, allow404 });
    } catch (e) {
      if (ctx.signal.aborted) return;
      const handled = onError ? onError(e) : false;
      if (handled === 'stop') return;
      if (!handled) ctx.error(e, source);
      delay = delay ? Math.min(delay * 2, 15000) : 2000;
      await sleep(delay, ctx.signal);
      continue;
    }
    if (ctx.signal.aborted) return;
    delay = 0;
    ctx.clear(source);
    const prev = index;
    const n = Number(r.index || 0);
    index = blocking && n > 0 && !(prev && n < Number(prev)) ? String(n) : null;
    if (prev === null || index !== prev) {
      try { onData(r); } catch (e) { ctx.error(e, source); }
    }
    if (!blocking || index === null) await sleep(interval, ctx.signal);
    // A server that answers a blocking read at once with the same index must not make us spin.
    else if (index === prev && Date.now() - started < 1000) await sleep(1000, ctx.signal);
  }
}

/* ---------- routing ---------- */

/** Maps a location.pathname to {page, dc, section, ...}. */
function parseRoute(pathname) {
  const rest = pathname.replace(/^\/ui\/?/, '');
  if (!rest) return { page: 'root' };
  const slash = rest.indexOf('/');
  const dc = dec(slash < 0 ? rest : rest.slice(0, slash));
  const tail = slash < 0 ? '' : rest.slice(slash + 1);
  const segs = tail.split('/');
  const base = { dc, section: segs[0] };
  switch (segs[0]) {
    case '':
      return { ...base, page: 'dc-root' };
    case 'services':
      return segs[1] ? { ...base, page: 'service', name: dec(segs[1]) } : { ...base, page: 'services' };
    case 'nodes':
      return segs[1] ? { ...base, page: 'node', name: dec(segs[1]) } : { ...base, page: 'nodes' };
    case 'kv':
      return { ...base, ...kvRoute(tail.slice(3)) };
    case 'acls': { // a Consul detail URL (/acls/tokens/<id>) shows the list
      const tab = segs[1] || 'tokens';
      return ['tokens', 'policies', 'roles'].includes(tab) ? { ...base, page: 'acl', tab } : { ...base, page: 'notfound' };
    }
    case 'intentions': case 'login': case 'federation': case 'plugins':
      return { ...base, page: segs[0] };
    default:
      return { ...base, page: 'notfound' };
  }
}

function kvRoute(raw) {
  if (raw.endsWith('/edit')) return { page: 'kv-key', key: decPath(raw.slice(0, -5)) };
  if (raw === 'create') return { page: 'kv-create', folder: '' };
  if (raw.endsWith('/create')) return { page: 'kv-create', folder: decPath(raw.slice(0, -6)) };
  if (raw === '' || raw.endsWith('/')) return { page: 'kv-folder', folder: decPath(raw) };
  return { page: 'kv-key', key: decPath(raw) };
}

const parentFolder = (key) => key.slice(0, key.replace(/\/$/, '').lastIndexOf('/') + 1);

/** The UI URL of a KV key or folder (keys that would read as a page get Consul's /edit). */
function kvUrl(dc, key) {
  const last = key.split('/').pop();
  const ambiguous = !key.endsWith('/') && (last === 'create' || last === 'edit' || key === '');
  return uiUrl(dc, `kv/${encPath(key)}${ambiguous ? '/edit' : ''}`);
}

/** Same kind of page in another datacenter; detail pages go to their list. */
function switchPath(route, dc) {
  switch (route.page) {
    case 'services': case 'service': return uiUrl(dc, 'services');
    case 'nodes': case 'node': return uiUrl(dc, 'nodes');
    case 'kv-folder': case 'kv-create': return uiUrl(dc, `kv/${encPath(route.folder)}`);
    case 'kv-key': return uiUrl(dc, `kv/${encPath(parentFolder(route.key))}`);
    case 'acl': return uiUrl(dc, `acls/${route.tab}`);
    case 'intentions': case 'login': case 'federation': case 'plugins': return uiUrl(dc, route.page);
    default: return uiUrl(dc, 'services');
  }
}

function navigate(path, replace = false) {
  history[replace ? 'replaceState' : 'pushState'](null, '', path);
  if (!replace) window.scrollTo(0, 0);
  render();
}

function onLinkClick(e) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || (a.target && a.target !== '_self') || a.hasAttribute('download')) return;
  if (a.getAttribute('href').startsWith('#')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !/^\/ui(\/|$)/.test(url.pathname) || url.pathname.startsWith('/ui/assets/')) return;
  e.preventDefault();
  navigate(url.pathname + url.search + url.hash);
}

/* ---------- header ---------- */

function loadDcs() {
  app.dcsPromise ??= api('/v1/catalog/datacenters').then((r) => {
    app.dcs = Array.isArray(r.data) ? r.data : [];
    updateSwitcher();
    return app.dcs;
  }, (e) => { app.dcsPromise = null; throw e; });
  return app.dcsPromise;
}

/** Marks datacenters whose route has no healthy server (checked at most every 15 s). */
async function refreshUnreachable() {
  if (Date.now() - app.routesCheckedAt < 15000) return;
  app.routesCheckedAt = Date.now();
  try {
    const r = await api('/v1/operator/routes');
    const down = new Set();
    const up = new Set();
    for (const rt of r.data?.Routes || []) (rt.HealthyServers > 0 ? up : down).add(rt.Datacenter);
    app.unreachable = new Set([...down].filter((d) => !up.has(d)));
  } catch {
    app.unreachable = new Set();
  }
  updateSwitcher();
}

function updateSwitcher() {
  const sel = document.getElementById('dc-switcher');
  const dc = app.route?.dc;
  const names = [...(app.dcs || [])];
  if (dc && !names.includes(dc)) names.push(dc);
  const sig = JSON.stringify([names, [...app.unreachable]]);
  if (sel.dataset.sig !== sig) {
    sel.replaceChildren(...names.map((n) => h('option', { value: n }, app.unreachable.has(n) ? `${n} (unreachable)` : n)));
    sel.dataset.sig = sig;
  }
  if (dc) sel.value = dc;
}

function updateNav(route) {
  const dc = route.dc || app.dcs?.[0];
  for (const a of document.querySelectorAll('[data-nav]')) {
    const section = a.dataset.nav;
    if (dc) a.href = uiUrl(dc, section === 'kv' ? 'kv/' : section);
    if (section === route.section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (dc) document.getElementById('brand').href = uiUrl(dc, 'services');
}

async function fetchSelf(token) {
  try {
    const r = await api('/v1/acl/token/self', null, { token });
    app.self.set(token, r.data || { failed: true });
  } catch {
    app.self.set(token, { failed: true });
  }
}

function updateAuth() {
  const el = document.getElementById('auth');
  const dc = app.route?.dc || app.dcs?.[0];
  const token = storedToken();
  if (!token) {
    swap(el, dc ? link(uiUrl(dc, 'login'), 'Log in', 'login', { class: 'login-link' }) : '');
    return;
  }
  const info = app.self.get(token);
  let label = '…';
  if (info?.AccessorID) label = info.AccessorID.slice(0, 8);
  else if (info?.failed) label = 'unverified';
  swap(el,
    h('span', { class: 'who', title: info?.AccessorID ? `AccessorID ${info.AccessorID}` : null },
      'Token ', h('code', null, label)),
    h('button', { type: 'button', id: 'logout', class: 'secondary', 'data-fk': 'logout', onclick: logout }, 'Log out'));
  if (!app.self.has(token)) {
    app.self.set(token, null); // lookup under way
    fetchSelf(token).then(updateAuth);
  }
}

function logout() {
  try { localStorage.removeItem(TOKEN_KEY); } catch { /* storage blocked */ }
  app.self.clear();
  render();
}

/* ---------- page context ---------- */

function markFirstRender() {
  if (window.__praetorFirstRender === undefined) window.__praetorFirstRender = performance.now();
}

/** What a page function gets: route, dc, signal, mount(), ready(), error(), clear(). */
function makeCtx(route, signal) {
  const main = document.getElementById('main');
  const bannerSlot = h('div', { class: 'banner-slot' });
  main.replaceChildren(bannerSlot);
  if (app.flash) {
    main.append(statusP(app.flash));
    app.flash = null;
  }
  main.dataset.state = 'loading';
  let bannerSource = null;
  const loadErrors = new Set();
  let isReady = false;
  const ctx = {
    route, dc: route.dc, signal, main,
    q: (extra) => ({ dc: route.dc, ...extra }),
    mount(...nodes) { appendAll(main, nodes); },
    ready() {
      if (signal.aborted) return;
      isReady = true;
      if (!loadErrors.size) main.dataset.state = 'ready';
      markFirstRender();
    },
    /** Shows the banner. Sources other than 'action' are page loads: they set state=error. */
    error(e, source = 'load') {
      if (signal.aborted || isAbort(e)) return;
      bannerSource = source;
      swap(bannerSlot, h('div', { class: 'banner error', 'data-test': 'error', role: 'alert' }, errText(e)));
      if (source === 'action') return;
      loadErrors.add(source);
      main.dataset.state = 'error';
      for (const p of main.querySelectorAll('[data-placeholder]')) p.textContent = 'Not loaded (see the message above).';
    },
    clear(source = 'action') {
      if (source !== 'action' && loadErrors.delete(source) && !loadErrors.size) {
        main.dataset.state = isReady ? 'ready' : 'loading';
      }
      if (bannerSource === source) {
        bannerSource = null;
        bannerSlot.replaceChildren();
      }
    },
  };
  return ctx;
}

/** Runs an action (a form submission): clears the action banner, disables the button. */
async function act(ctx, btn, fn) {
  ctx.clear('action');
  const hadFocus = btn && document.activeElement === btn;
  const fk = btn?.getAttribute('data-fk');
  if (btn) btn.disabled = true; // a disabled button drops focus: it gets it back below
  try {
    await fn();
  } catch (e) {
    ctx.error(e, 'action');
  } finally {
    if (btn) btn.disabled = false;
    const active = document.activeElement;
    if (hadFocus && !ctx.signal.aborted && (!active || active === document.body)) {
      (btn.isConnected ? btn : fk && document.querySelector(`[data-fk="${CSS.escape(fk)}"]`))?.focus();
    }
  }
}

async function render() {
  app.ctrl?.abort();
  const ctrl = new AbortController();
  app.ctrl = ctrl;
  const route = parseRoute(location.pathname);
  app.route = route;
  app.path = location.pathname + location.search;
  updateNav(route);
  updateSwitcher();
  updateAuth();
  if (route.page === 'root') {
    const ctx = makeCtx(route, ctrl.signal);
    try {
      const dcs = await loadDcs();
      if (ctrl.signal.aborted) return;
      if (!dcs.length) throw new Error('The agent reported no datacenters.');
      navigate(uiUrl(dcs[0], 'services'), true);
    } catch (e) {
      ctx.error(e);
    }
    return;
  }
  if (route.page === 'dc-root') {
    navigate(uiUrl(route.dc, 'services'), true);
    return;
  }
  if (!app.dcs) loadDcs().catch(() => {});
  refreshUnreachable();
  const ctx = makeCtx(route, ctrl.signal);
  try {
    (PAGES[route.page] || pageNotFound)(ctx);
  } catch (e) {
    ctx.error(e);
  }
  // After an in-app navigation the clicked link is gone: move focus to the new content.
  const active = document.activeElement;
  if (app.started && (!active || active === document.body)) document.getElementById('main').focus({ preventScroll: true });
  app.started = true;
}

/* ---------- Services ---------- */

/** A list page with a name filter. Returns draw(items), to call when data arrives. */
function filteredList(ctx, { id, title, headers, nameOf, row }) {
  let items = null;
  const area = dataArea();
  const filter = filterInput(id, 'Filter by name', () => draw());
  ctx.mount(h('h1', null, title), filter.wrap, area);
  function draw(next) {
    if (next) items = byName(next, nameOf);
    if (!items) return;
    const term = filter.input.value.trim().toLowerCase();
    const shown = items.filter((x) => String(nameOf(x)).toLowerCase().includes(term));
    swap(area, shown.length ? table(title, headers, shown.map(row))
      : empty(items.length ? 'Nothing matches the filter.' : `No ${title.toLowerCase()} are registered in this datacenter.`));
  }
  return draw;
}

function pageServices(ctx) {
  const draw = filteredList(ctx, {
    id: 'service-filter', title: 'Services', headers: ['Service', 'Kind', 'Instances', 'Health', 'Tags'],
    nameOf: (s) => s.Name, row: (s) => serviceRow(ctx.dc, s),
  });
  live(ctx, '/v1/internal/ui/services', ctx.q(), (r) => { draw(r.data || []); ctx.ready(); });
}

function serviceRow(dc, s) {
  return h('tr', { 'data-test': 'service-row', 'data-name': s.Name },
    h('th', { scope: 'row' }, link(uiUrl(dc, `services/${enc(s.Name)}`), s.Name, `svc:${s.Name}`)),
    h('td', null, s.Kind ? chip(s.Kind, 'kind') : ''),
    h('td', { class: 'num' }, String(s.InstanceCount ?? (s.Nodes || []).length)),
    h('td', null, healthSummary(s.ChecksPassing, s.ChecksWarning, s.ChecksCritical)),
    h('td', null, tagList(s.Tags)));
}

/* ---------- Service detail ---------- */

function pageService(ctx) {
  const name = ctx.route.name;
  const instances = dataArea();
  const upstreams = dataArea();
  const intentions = dataArea();
  ctx.mount(
    crumbs([['Services', uiUrl(ctx.dc, 'services')]]),
    h('h1', null, name),
    section('h-instances', 'Instances', instances),
    section('h-upstreams', 'Upstreams', upstreams),
    section('h-intentions', 'Intentions (this service as destination)', intentions));
  live(ctx, `/v1/health/service/${enc(name)}`, ctx.q(), (r) => {
    const list = r.data || [];
    swap(instances, list.length
      ? table(`Instances of ${name}`, ['ID', 'Node', 'Address', 'Tags', 'Status'], list.map((e) => instanceRows(ctx.dc, e)))
      : empty(`No instances of ${name} are registered in ${ctx.dc}.`));
    swap(upstreams, upstreamsView(ctx.dc, list));
    ctx.ready();
  });
  live(ctx, '/v1/connect/intentions/match', ctx.q({ by: 'destination', name }), (r) => {
    swap(intentions, intentionMatches(ctx.dc, (r.data && r.data[name]) || []));
  }, {
    onError(e) {
      if (e instanceof ApiError && e.status === 403) {
        swap(intentions, empty('no permission to read intentions'));
        return 'stop';
      }
      swap(intentions, sectionError(errText(e)));
      return true;
    },
  });
}

function instanceRows(dc, { Node: node = {}, Service: svc = {}, Checks: checks = [] }) {
  const worst = worstStatus(checks);
  const proxyFor = svc.Kind === 'connect-proxy' && svc.Proxy?.DestinationServiceName;
  return [
    h('tr', { 'data-test': 'instance-row', 'data-id': svc.ID },
      h('th', { scope: 'row' }, svc.ID,
        svc.Kind ? h('div', null, chip(svc.Kind, 'kind'), proxyFor ? [' for ', link(uiUrl(dc, `services/${enc(proxyFor)}`), proxyFor)] : '') : null),
      h('td', null, link(uiUrl(dc, `nodes/${enc(node.Node)}`), node.Node, `node:${svc.ID}`)),
      h('td', null, h('code', null, `${svc.Address || node.Address || ''}:${svc.Port ?? ''}`)),
      h('td', null, tagList(svc.Tags)),
      h('td', null, worst ? badge(worst) : muted('no checks'))),
    h('tr', { class: 'checks-row' }, h('td', { colspan: 5 }, checkList(checks))),
  ];
}

function checkList(checks) {
  if (!checks.length) return muted('No health checks.');
  return h('ul', { class: 'checks', 'aria-label': 'Health checks' }, checks.map((c) =>
    h('li', { 'data-test': 'check', 'data-check-id': c.CheckID },
      h('div', { class: 'check-head' },
        badge(c.Status), ' ', h('strong', null, c.Name || c.CheckID), ' ',
        muted(c.ServiceID ? `(${c.CheckID})` : `(${c.CheckID}, node check)`)),
      c.Output ? h('pre', { class: 'output' }, c.Output) : null)));
}

function upstreamsView(dc, list) {
  const proxies = list.filter((e) => e.Service?.Kind === 'connect-proxy');
  if (!proxies.length) return empty('No connect-proxy instances, so no upstreams.');
  const rows = proxies.flatMap((e) => (e.Service.Proxy?.Upstreams || []).map((u) =>
    h('tr', { 'data-test': 'upstream-row' },
      h('th', { scope: 'row' }, e.Service.ID),
      h('td', null, link(uiUrl(u.Datacenter || dc, `services/${enc(u.DestinationName)}`), u.DestinationName)),
      h('td', { class: 'num' }, String(u.LocalBindPort ?? '')),
      h('td', null, u.Datacenter || muted('local')))));
  return rows.length ? table('Upstreams', ['Proxy instance', 'Destination', 'Local bind port', 'Datacenter'], rows)
    : empty('The proxies declare no upstreams.');
}

function intentionMatches(dc, list) {
  if (!list.length) return empty('No intentions match this service.');
  return h('ul', { class: 'plain-list' }, list.map((i) =>
    h('li', { 'data-test': 'intention-match' },
      h('strong', null, i.SourceName), ' → ', actionBadge(i.Action),
      i.Description ? [' ', muted(i.Description)] : null)),
  h('li', null, link(uiUrl(dc, 'intentions'), 'Manage intentions')));
}

const actionBadge = (a) => h('span', { class: `status status-${a === 'allow' ? 'passing' : 'critical'}` }, a || 'unknown');

/* ---------- Nodes ---------- */

function pageNodes(ctx) {
  let nodes = null;
  let checks = null; // node checks (ServiceID "") give a node's health
  const draw = filteredList(ctx, {
    id: 'node-filter', title: 'Nodes', headers: ['Node', 'Address', 'Health'],
    nameOf: (n) => n.Node, row: (n) => nodeRow(ctx.dc, n, checks),
  });
  const update = () => {
    if (!nodes) return;
    draw(nodes);
    if (checks) ctx.ready();
  };
  live(ctx, '/v1/catalog/nodes', ctx.q(), (r) => { nodes = r.data || []; update(); });
  live(ctx, '/v1/health/state/any', ctx.q(), (r) => { checks = r.data || []; update(); });
}

function nodeRow(dc, n, checks) {
  const own = checks && checks.filter((c) => c.Node === n.Node && !c.ServiceID);
  return h('tr', { 'data-test': 'node-row', 'data-name': n.Node },
    h('th', { scope: 'row' }, link(uiUrl(dc, `nodes/${enc(n.Node)}`), n.Node, `node:${n.Node}`)),
    h('td', null, h('code', null, n.Address || '')),
    h('td', null, own ? healthOf(own) : muted('…')));
}

/* ---------- Node detail ---------- */

function pageNode(ctx) {
  const name = ctx.route.name;
  const info = dataArea();
  const checks = dataArea();
  const services = dataArea();
  const coord = dataArea();
  ctx.mount(
    crumbs([['Nodes', uiUrl(ctx.dc, 'nodes')]]),
    h('h1', null, name),
    info,
    section('h-checks', 'Health checks', checks),
    section('h-services', 'Services', services),
    section('h-coord', 'Network coordinate', coord));
  live(ctx, `/v1/catalog/node/${enc(name)}`, ctx.q(), (r) => {
    if (!r.data || !r.data.Node) {
      swap(info, empty(`Node ${name} not found in ${ctx.dc}.`));
      swap(services, empty('No services.'));
    } else {
      swap(info, nodeInfo(r.data.Node));
      swap(services, nodeServices(ctx.dc, r.data.Services));
    }
    ctx.ready();
  }, { allow404: true });
  live(ctx, `/v1/health/node/${enc(name)}`, ctx.q(), (r) => {
    swap(checks, checkList(r.data || []));
  });
  live(ctx, `/v1/coordinate/node/${enc(name)}`, ctx.q(), (r) => {
    swap(coord, coordView(r.data));
  }, { blocking: false, interval: 30000, allow404: true, onError: (e) => { swap(coord, sectionError(errText(e))); return true; } });
}

function nodeInfo(node) {
  const kv = (obj) => {
    const entries = Object.entries(obj || {});
    return entries.length ? h('span', { class: 'chips' }, entries.map(([k, v]) => chip(`${k}=${v}`))) : '';
  };
  return props([
    ['Address', h('code', null, node.Address || '')],
    ['Datacenter', node.Datacenter || ''],
    node.ID ? ['ID', h('code', null, node.ID)] : null,
    ['Tagged addresses', kv(node.TaggedAddresses)],
    ['Meta', kv(node.Meta)],
  ]);
}

function nodeServices(dc, services) {
  const list = byName(Object.values(services || {}), (s) => s.ID || '');
  if (!list.length) return empty('No services on this node.');
  return table('Services on this node', ['ID', 'Service', 'Port', 'Tags'], list.map((s) =>
    h('tr', { 'data-test': 'node-service-row' },
      h('th', { scope: 'row' }, s.ID),
      h('td', null, link(uiUrl(dc, `services/${enc(s.Service)}`), s.Service, `nsvc:${s.ID}`)),
      h('td', { class: 'num' }, String(s.Port ?? '')),
      h('td', null, tagList(s.Tags)))));
}

function coordView(list) {
  if (!Array.isArray(list) || !list.length) return empty('no coordinate yet');
  return list.map((c) => props([
    ['Segment', c.Segment || muted('(default)')],
    ['Vec', h('code', null, (c.Coord?.Vec || []).map((v) => String(Number(Number(v).toPrecision(6)))).join(', '))],
    ['Error', String(c.Coord?.Error ?? '')],
    ['Adjustment', String(c.Coord?.Adjustment ?? '')],
    ['Height', String(c.Coord?.Height ?? '')],
  ]));
}

/* ---------- Key/Value ---------- */

function kvCrumbs(dc, path) {
  const parts = path.split('/').slice(0, -1);
  const items = [['Key/Value', uiUrl(dc, 'kv/')]];
  parts.forEach((p, i) => items.push([p, uiUrl(dc, `kv/${encPath(parts.slice(0, i + 1).join('/'))}/`)]));
  return crumbs(items);
}

function crumbs(items) {
  return h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
    h('ol', null, items.map(([text, href]) => h('li', null, link(href, text)))));
}

function pageKvFolder(ctx) {
  const folder = ctx.route.folder;
  const area = dataArea();
  ctx.mount(
    kvCrumbs(ctx.dc, folder),
    h('div', { class: 'page-head' },
      h('h1', null, folder || 'Key/Value'),
      h('a', { class: 'button', id: 'kv-create', href: uiUrl(ctx.dc, `kv/${encPath(folder)}create`) }, 'Create')),
    area);
  live(ctx, `/v1/kv/${encPath(folder)}`, ctx.q({ keys: true, separator: '/' }), (r) => {
    const keys = (Array.isArray(r.data) ? r.data : []).filter((k) => k !== folder).sort();
    swap(area, keys.length
      ? table(`Keys in ${folder || 'the root folder'}`, ['Name', 'Kind'], keys.map((k) => kvRow(ctx.dc, folder, k)))
      : empty('No keys'));
    ctx.ready();
  }, { allow404: true });
}

function kvRow(dc, folder, key) {
  const isFolder = key.endsWith('/');
  const label = key.startsWith(folder) ? key.slice(folder.length) : key;
  return h('tr', { 'data-test': 'kv-row', 'data-key': key },
    h('th', { scope: 'row' }, link(kvUrl(dc, key), label, `kv:${key}`, { class: isFolder ? 'folder' : 'key' })),
    h('td', null, isFolder ? 'Folder' : 'Key'));
}

function pageKvKey(ctx) {
  const key = ctx.route.key;
  const kvPath = `/v1/kv/${encPath(key)}`;
  const area = dataArea();
  const stale = h('p', { class: 'notice', 'data-test': 'stale', role: 'status', hidden: true },
    'This key changed since you loaded it');
  let loaded; // undefined until the first read; null when the key does not exist
  let seen = null; // ModifyIndex seen last by the background read (0: the key is gone)
  const checkStale = () => { stale.hidden = !(loaded && seen !== null && seen !== loaded.ModifyIndex); };
  ctx.mount(kvCrumbs(ctx.dc, key), h('h1', null, key), stale, area);

  live(ctx, kvPath, ctx.q(), (r) => {
    const entry = (Array.isArray(r.data) && r.data[0]) || null;
    seen = entry ? entry.ModifyIndex : 0;
    if (loaded === undefined || (loaded === null && entry)) {
      loaded = entry;
      swap(area, entry ? kvForm(ctx, key, entry, {
        get: () => loaded,
        set: (e) => { loaded = e; seen = e ? e.ModifyIndex : 0; checkStale(); },
      }) : kvMissing(ctx.dc, key));
    }
    checkStale();
    ctx.ready();
  }, { allow404: true });
}

function kvMissing(dc, key) {
  return h('div', { class: 'empty-state' },
    h('p', { class: 'empty', 'data-test': 'not-found' }, 'Key not found'),
    link(`${uiUrl(dc, `kv/${encPath(parentFolder(key))}create`)}?key=${enc(key)}`, `Create ${key}`, null, { class: 'button' }));
}

function kvMeta(entry) {
  return props([
    ['Modify index', String(entry.ModifyIndex)],
    ['Create index', String(entry.CreateIndex)],
    ['Flags', String(entry.Flags ?? 0)],
    entry.LockIndex ? ['Lock index', String(entry.LockIndex)] : null,
    ['Session', entry.Session ? h('code', null, entry.Session) : ''],
  ]);
}

/** The edit form of an existing key. state.get()/set() hold the entry last loaded. */
function kvForm(ctx, key, entry, state) {
  const kvPath = `/v1/kv/${encPath(key)}`;
  const value = h('textarea', { id: 'kv-value', rows: 12, spellcheck: 'false', value: decodeValue(entry.Value) });
  const save = h('button', { id: 'kv-save', type: 'submit' }, 'Save');
  const del = h('button', { id: 'kv-delete', type: 'button', class: 'danger' }, 'Delete');
  const confirmDel = h('button', { id: 'kv-delete-confirm', type: 'button', class: 'danger', hidden: true }, 'Confirm delete');
  const cancelDel = h('button', { id: 'kv-delete-cancel', type: 'button', class: 'secondary', hidden: true }, 'Cancel');
  const meta = h('div', null, kvMeta(entry));
  const status = h('div', { class: 'status-slot' });
  const showConfirm = (on) => {
    confirmDel.hidden = !on;
    cancelDel.hidden = !on;
    del.hidden = on;
    (on ? confirmDel : del).focus();
  };
  del.addEventListener('click', () => showConfirm(true));
  cancelDel.addEventListener('click', () => showConfirm(false));
  confirmDel.addEventListener('click', () => act(ctx, confirmDel, async () => {
    status.replaceChildren();
    const r = await api(kvPath, ctx.q({ cas: state.get().ModifyIndex }), { method: 'DELETE', signal: ctx.signal });
    if (r.data !== true) throw new Error(CAS_FAILED);
    navigate(uiUrl(ctx.dc, `kv/${encPath(parentFolder(key))}`));
  }));
  const onSubmit = (e) => {
    e.preventDefault();
    act(ctx, save, async () => {
      status.replaceChildren();
      const r = await api(kvPath, ctx.q({ cas: state.get().ModifyIndex }), { method: 'PUT', body: value.value, signal: ctx.signal });
      if (r.data !== true) throw new Error(CAS_FAILED);
      const g = await api(kvPath, ctx.q(), { signal: ctx.signal, allow404: true });
      const fresh = (Array.isArray(g.data) && g.data[0]) || null;
      if (fresh) {
        state.set(fresh);
        meta.replaceChildren(kvMeta(fresh));
      }
      status.replaceChildren(statusP('Saved'));
    });
  };
  return h('form', { class: 'kv-form', onsubmit: onSubmit },
    labelled('kv-value', 'Value', value),
    h('div', { class: 'actions' }, save, del, confirmDel, cancelDel),
    status,
    meta);
}

function pageKvCreate(ctx) {
  const folder = ctx.route.folder;
  const preset = new URLSearchParams(location.search).get('key');
  const keyInput = h('input', { id: 'kv-key', type: 'text', autocomplete: 'off', spellcheck: 'false', required: true, value: preset ?? folder });
  const value = h('textarea', { id: 'kv-value', rows: 10, spellcheck: 'false' });
  const save = h('button', { id: 'kv-save', type: 'submit' }, 'Save');
  const onSubmit = (e) => {
    e.preventDefault();
    act(ctx, save, async () => {
      const key = keyInput.value.replace(/^\/+/, '');
      if (!key) throw new Error('Enter a key name.');
      const isFolder = key.endsWith('/');
      const r = await api(`/v1/kv/${encPath(key)}`, ctx.q({ cas: 0 }), { method: 'PUT', body: isFolder ? '' : value.value, signal: ctx.signal });
      if (r.data !== true) throw new Error(`A key named "${key}" already exists.`);
      navigate(isFolder ? uiUrl(ctx.dc, `kv/${encPath(key)}`) : kvUrl(ctx.dc, key));
    });
  };
  ctx.mount(
    kvCrumbs(ctx.dc, folder),
    h('h1', null, 'Create a key'),
    h('form', { class: 'kv-form', onsubmit: onSubmit },
      labelled('kv-key', 'Key', keyInput, 'A name ending in / creates a folder.'),
      labelled('kv-value', 'Value', value),
      h('div', { class: 'actions' }, save,
        link(uiUrl(ctx.dc, `kv/${encPath(folder)}`), 'Cancel', null, { class: 'button secondary' }))));
  ctx.ready();
  keyInput.focus();
  keyInput.setSelectionRange(keyInput.value.length, keyInput.value.length);
}

/* ---------- Intentions ---------- */

const button = (label, attrs, onclick) => h('button', { type: 'button', ...attrs, onclick }, label);
const intentionKey = (i) => JSON.stringify([i.SourceName, i.DestinationName]);

function pageIntentions(ctx) {
  // modes: row key -> {mode: 'edit'|'confirm', action, description}; kept across live re-renders.
  const view = { ctx, list: null, modes: new Map(), area: dataArea(), status: h('div', { class: 'status-slot' }) };
  ctx.mount(h('h1', null, 'Intentions'), view.status, view.area,
    section('h-new-intention', 'Create an intention', intentionCreateForm(ctx, view.status)));
  live(ctx, '/v1/connect/intentions', ctx.q(), (r) => {
    view.list = Array.isArray(r.data) ? r.data : [];
    for (const k of view.modes.keys()) if (!view.list.some((i) => intentionKey(i) === k)) view.modes.delete(k);
    drawIntentions(view);
    ctx.ready();
  });
}

function drawIntentions(view, focusFk) {
  if (!view.list) return;
  swap(view.area, view.list.length
    ? table('Intentions', ['Source', 'Destination', 'Action', 'Precedence', 'Description', 'Actions'],
      view.list.map((i, n) => intentionRow(view, i, n)))
    : empty('No intentions.'));
  if (focusFk) view.area.querySelector(`[data-fk="${CSS.escape(focusFk)}"]`)?.focus();
}

/** Puts a row in a mode ('edit', 'confirm' or null) and focuses one of its controls. */
function setMode(view, i, mode, focus) {
  const k = intentionKey(i);
  if (mode) view.modes.set(k, { mode, action: i.Action || 'allow', description: i.Description || '' });
  else view.modes.delete(k);
  drawIntentions(view, `${k}:${focus}`);
}

function intentionRow(view, i, n) {
  const m = view.modes.get(intentionKey(i));
  const fk = (s) => `${intentionKey(i)}:${s}`;
  const row = (action, description, buttons) => h('tr',
    { 'data-test': 'intention-row', 'data-source': i.SourceName, 'data-destination': i.DestinationName },
    h('th', { scope: 'row' }, i.SourceName), h('td', null, i.DestinationName), h('td', null, action),
    h('td', { class: 'num' }, String(i.Precedence ?? '')), h('td', null, description),
    h('td', { class: 'row-actions' }, buttons));
  if (m?.mode === 'edit') {
    const [aId, dId] = [`intention-edit-action-${n}`, `intention-edit-description-${n}`];
    return row(
      [h('label', { for: aId, class: 'visually-hidden' }, 'Action'),
        actionSelect(aId, m.action, fk('action'), (e) => { m.action = e.target.value; })],
      [h('label', { for: dId, class: 'visually-hidden' }, 'Description'),
        h('input', { id: dId, type: 'text', value: m.description, 'data-fk': fk('desc'), oninput: (e) => { m.description = e.target.value; } })],
      [button('Save', { 'data-test': 'intention-save-edit', 'data-fk': fk('save') }, (e) => saveIntentionEdit(view, i, m, e.currentTarget)),
        button('Cancel', { class: 'secondary', 'data-fk': fk('cancel') }, () => setMode(view, i, null, 'edit'))]);
  }
  return row(actionBadge(i.Action), i.Description || '', m?.mode === 'confirm'
    ? [button('Confirm delete', { class: 'danger', 'data-test': 'intention-delete-confirm', 'data-fk': fk('confirm') }, (e) => deleteIntention(view, i, e.currentTarget)),
      button('Cancel', { class: 'secondary', 'data-fk': fk('cancel') }, () => setMode(view, i, null, 'delete'))]
    : [button('Edit', { 'data-test': 'intention-edit', 'data-fk': fk('edit') }, () => setMode(view, i, 'edit', 'action')),
      button('Delete', { class: 'danger', 'data-test': 'intention-delete', 'data-fk': fk('delete') }, () => setMode(view, i, 'confirm', 'confirm'))]);
}

function saveIntentionEdit(view, i, m, btn) {
  act(view.ctx, btn, async () => {
    view.status.replaceChildren();
    await putIntention(view.ctx, i.SourceName, i.DestinationName, m.action, m.description);
    Object.assign(i, { Action: m.action, Description: m.description });
    setMode(view, i, null, 'edit');
    view.status.replaceChildren(statusP(`Saved ${i.SourceName} → ${i.DestinationName}`));
  });
}

function deleteIntention(view, i, btn) {
  const { ctx } = view;
  act(ctx, btn, async () => {
    view.status.replaceChildren();
    await api('/v1/connect/intentions/exact', ctx.q({ source: i.SourceName, destination: i.DestinationName }), { method: 'DELETE', signal: ctx.signal });
    view.modes.delete(intentionKey(i));
    view.list = view.list.filter((x) => x !== i);
    drawIntentions(view);
    view.status.replaceChildren(statusP(`Deleted ${i.SourceName} → ${i.DestinationName}`));
  });
}

function actionSelect(id, value, fk, onchange) {
  return h('select', { id, 'data-fk': fk, onchange, value },
    h('option', { value: 'allow' }, 'allow'), h('option', { value: 'deny' }, 'deny'));
}

function putIntention(ctx, source, destination, action, description) {
  return api('/v1/connect/intentions/exact', ctx.q({ source, destination }), {
    method: 'PUT', signal: ctx.signal,
    json: { SourceName: source, DestinationName: destination, Action: action, Description: description },
  });
}

function intentionCreateForm(ctx, status) {
  const src = h('input', { id: 'intention-source', type: 'text', autocomplete: 'off', required: true });
  const dst = h('input', { id: 'intention-destination', type: 'text', autocomplete: 'off', required: true });
  const action = actionSelect('intention-action', 'allow');
  const desc = h('input', { id: 'intention-description', type: 'text', autocomplete: 'off' });
  const save = h('button', { id: 'intention-save', type: 'submit' }, 'Save');
  const onSubmit = (e) => {
    e.preventDefault();
    act(ctx, save, async () => {
      status.replaceChildren();
      const s = src.value.trim();
      const d = dst.value.trim();
      if (!s || !d) throw new Error('Enter a source and a destination service.');
      await putIntention(ctx, s, d, action.value, desc.value);
      src.value = '';
      dst.value = '';
      desc.value = '';
      status.replaceChildren(statusP(`Saved ${s} → ${d}`));
    });
  };
  return h('form', { class: 'grid-form', onsubmit: onSubmit },
    labelled('intention-source', 'Source service', src),
    labelled('intention-destination', 'Destination service', dst),
    labelled('intention-action', 'Action', action),
    labelled('intention-description', 'Description', desc),
    h('div', { class: 'actions' }, save));
}

/* ---------- ACL ---------- */

const ACL_TABS = {
  tokens: { title: 'Tokens', path: '/v1/acl/tokens', draw: aclTokens },
  policies: { title: 'Policies', path: '/v1/acl/policies', draw: aclPolicies },
  roles: { title: 'Roles', path: '/v1/acl/roles', draw: aclRoles },
};

function pageAcl(ctx) {
  const tab = ctx.route.tab;
  const cfg = ACL_TABS[tab];
  const area = dataArea();
  const detail = h('div', { class: 'acl-detail' });
  const sub = h('nav', { class: 'subnav', 'aria-label': 'ACL' }, h('ul', null, Object.entries(ACL_TABS).map(([k, t]) =>
    h('li', null, h('a', { href: uiUrl(ctx.dc, `acls/${k}`), 'aria-current': k === tab ? 'page' : null }, t.title)))));
  ctx.mount(h('h1', null, `ACL ${cfg.title.toLowerCase()}`), sub, area, detail);
  const view = { ctx, detail, open: null };
  live(ctx, cfg.path, ctx.q(), (r) => {
    swap(area, cfg.draw(view, Array.isArray(r.data) ? r.data : []));
    ctx.ready();
  }, {
    onError(e) {
      if (!isAclDisabled(e)) return false;
      swap(area, h('p', { class: 'notice', 'data-test': 'acl-disabled' }, 'ACLs are disabled in this datacenter'));
      ctx.ready();
      return 'stop';
    },
  });
}

const nameChips = (list) => ((list || []).length ? h('span', { class: 'chips' }, list.map((p) => chip(p.Name || p.ID))) : '');

function aclTokens(view, tokens) {
  if (!tokens.length) return empty('No tokens.');
  const me = app.self.get(storedToken())?.AccessorID;
  return table('Tokens', ['AccessorID', 'Description', 'Policies', 'Roles', 'Scope', 'Created'], tokens.map((t) =>
    h('tr', { 'data-test': 'token-row', 'data-accessor': t.AccessorID },
      h('th', { scope: 'row' }, h('code', null, t.AccessorID), t.AccessorID === me ? [' ', chip('you', 'kind')] : null),
      h('td', null, t.Description || ''),
      h('td', null, nameChips(t.Policies)),
      h('td', null, nameChips(t.Roles)),
      h('td', null, t.Local ? 'local' : 'global'),
      h('td', null, fmtTime(t.CreateTime)))));
}

function aclPolicies(view, policies) {
  if (!policies.length) return empty('No policies.');
  return table('Policies', ['Name', 'Description', 'Datacenters', 'ID'], policies.map((p) =>
    h('tr', { 'data-test': 'policy-row', 'data-id': p.ID, 'data-name': p.Name },
      h('th', { scope: 'row' }, h('button', {
        type: 'button', class: 'linklike', 'data-test': 'policy-open', 'data-fk': `policy:${p.ID}`,
        'aria-expanded': String(view.open === p.ID), 'aria-controls': 'policy-detail',
        onclick: (e) => openPolicy(view, p, e.target),
      }, p.Name)),
      h('td', null, p.Description || ''),
      h('td', null, (p.Datacenters || []).length ? p.Datacenters.join(', ') : muted('all')),
      h('td', null, h('code', null, p.ID)))));
}

async function openPolicy(view, p, btn) {
  const { ctx, detail } = view;
  for (const b of document.querySelectorAll('[data-test="policy-open"]')) b.setAttribute('aria-expanded', 'false');
  btn.setAttribute('aria-expanded', 'true');
  view.open = p.ID;
  detail.replaceChildren(h('section', { id: 'policy-detail', class: 'block', 'data-test': 'policy-detail', 'aria-busy': 'true' },
    h('h2', null, `Policy ${p.Name}`), placeholder()));
  await act(ctx, null, async () => {
    const r = await api(`/v1/acl/policy/${enc(p.ID)}`, ctx.q(), { signal: ctx.signal }).catch((e) => {
      detail.replaceChildren();
      throw e;
    });
    if (view.open !== p.ID) return;
    const pol = r.data || {};
    detail.replaceChildren(h('section', { id: 'policy-detail', class: 'block', 'data-test': 'policy-detail' },
      h('h2', null, `Policy ${pol.Name || p.Name}`),
      props([['ID', h('code', null, pol.ID || p.ID)], ['Description', pol.Description || ''],
        ['Datacenters', (pol.Datacenters || []).join(', ') || muted('all')]]),
      h('h3', null, 'Rules'),
      h('pre', { class: 'rules', 'data-test': 'policy-rules' }, pol.Rules || '')));
  });
}

function aclRoles(view, roles) {
  if (!roles.length) return empty('No roles.');
  return table('Roles', ['Name', 'Description', 'Policies', 'ID'], roles.map((r) =>
    h('tr', { 'data-test': 'role-row', 'data-id': r.ID },
      h('th', { scope: 'row' }, r.Name),
      h('td', null, r.Description || ''),
      h('td', null, nameChips(r.Policies)),
      h('td', null, h('code', null, r.ID)))));
}

/* ---------- Log in ---------- */

function pageLogin(ctx) {
  const input = h('input', { id: 'login-token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true });
  const submit = h('button', { id: 'login-submit', type: 'submit' }, 'Log in');
  const status = h('div', { class: 'status-slot' });
  const current = storedToken() && app.self.get(storedToken());
  const onSubmit = (e) => {
    e.preventDefault();
    act(ctx, submit, async () => {
      status.replaceChildren();
      const token = input.value.trim();
      if (!token) throw new Error('Enter a token.');
      let r;
      try {
        r = await api('/v1/acl/token/self', null, { token, signal: ctx.signal });
      } catch (err) {
        if (!isAclDisabled(err)) throw err;
        status.replaceChildren(statusP('ACLs are disabled; no token needed'));
        return;
      }
      const info = r.data || {};
      try { localStorage.setItem(TOKEN_KEY, token); } catch { /* storage blocked */ }
      app.self.set(token, info);
      const who = `Logged in as ${info.Description || info.AccessorID}`;
      status.replaceChildren(statusP(who));
      app.flash = who;
      navigate(uiUrl(ctx.dc, 'services'));
    });
  };
  ctx.mount(
    h('h1', null, 'Log in'),
    current?.AccessorID ? h('p', null, `A token is stored (AccessorID ${current.AccessorID}). Logging in replaces it.`) : null,
    h('form', { class: 'login-form', onsubmit: onSubmit },
      labelled('login-token', 'ACL token (SecretID)', input, 'The token is kept in this browser (localStorage) and sent as X-Consul-Token.'),
      h('div', { class: 'actions' }, submit)),
    status);
  ctx.ready();
}

/* ---------- Federation ---------- */

function pageFederation(ctx) {
  const titles = { map: 'Map', links: 'Links', dcs: 'Datacenters', members: 'WAN members', areas: 'Network areas', gateways: 'Mesh gateways' };
  const part = Object.fromEntries(Object.keys(titles).map((k) => [k, dataArea()]));
  ctx.mount(h('h1', null, 'Federation'), Object.entries(titles).map(([k, title]) => section(`h-fed-${k}`, title, part[k])));
  const settled = (p) => p.then((r) => ({ ok: true, data: r.data }), (e) => ({ ok: false, error: e }));

  async function refresh() {
    const [dcList, routes, areaList, wan] = await Promise.all([
      settled(api('/v1/catalog/datacenters', null, { signal: ctx.signal })),
      settled(api('/v1/operator/routes', ctx.q(), { signal: ctx.signal })),
      settled(api('/v1/operator/area', ctx.q(), { signal: ctx.signal })),
      settled(api('/v1/agent/members', { wan: 1 }, { signal: ctx.signal })),
    ]);
    if (ctx.signal.aborted) return;
    if (dcList.ok) ctx.clear('federation');
    else ctx.error(dcList.error, 'federation');
    const names = dcList.ok && Array.isArray(dcList.data) ? dcList.data : [ctx.dc];
    const local = (routes.ok && routes.data?.Datacenter) || ctx.dc;
    const routeList = routes.ok ? routes.data?.Routes || [] : null;
    const state = (dc) => dcState(dc, local, routeList);
    swap(part.map, fedMap(local, names, routeList || [], state));
    swap(part.links, routes.ok ? fedLinks(local, routeList) : sectionError(errText(routes.error)));
    swap(part.dcs, h('ul', { class: 'dc-list' }, names.map((n) =>
      h('li', { 'data-test': 'fed-dc', 'data-name': n, 'data-state': state(n) },
        link(uiUrl(n, 'services'), n), ' ', h('span', { class: `dc-state state-${state(n)}` }, state(n))))));
    swap(part.members, wan.ok ? fedMembers(wan.data) : sectionError(`WAN members not available: ${errText(wan.error)}`));
    swap(part.areas, areaList.ok ? fedAreas(areaList.data) : sectionError(`Network areas not available: ${errText(areaList.error)}`));
    ctx.ready();
    swap(part.gateways, await fedGateways(ctx, names));
  }

  (async () => {
    while (!ctx.signal.aborted) {
      try { await refresh(); } catch (e) { ctx.error(e, 'federation'); }
      await sleep(10000, ctx.signal);
    }
  })();
}

function dcState(dc, local, routes) {
  if (dc === local) return 'local';
  if (!routes) return 'unknown';
  const rs = routes.filter((r) => r.Datacenter === dc);
  if (!rs.length) return 'unreachable';
  return rs.some((r) => r.HealthyServers > 0) ? 'reachable' : 'unreachable';
}

const pathClass = (p) => (['wan', 'area', 'multi-hop'].includes(p) ? p : 'other');

function fedLinks(local, routes) {
  if (!routes.length) return empty('No routes to other datacenters.');
  return table('Links between datacenters', ['From', 'To', 'Path', 'Path ID', 'RTT', 'Hops', 'Healthy servers'], routes.map((r) =>
    h('tr', { 'data-test': 'fed-link', 'data-datacenter': r.Datacenter, 'data-path': r.Path },
      h('td', null, local),
      h('th', { scope: 'row' }, r.Datacenter),
      h('td', null, h('span', { class: `path path-${pathClass(r.Path)}` }, r.Path)),
      h('td', null, h('code', null, r.PathID ?? '')),
      h('td', { class: 'num' }, fmtRtt(r.RTT)),
      h('td', { class: 'num' }, String(r.Hops ?? '')),
      h('td', { class: 'num' }, h('span', { class: r.HealthyServers > 0 ? '' : 'status status-critical' }, `${r.HealthyServers ?? 0}/${r.Servers ?? 0}`)))));
}

function fedMap(local, names, routes, state) {
  const others = [...new Set([...names, ...routes.map((r) => r.Datacenter)])].filter((d) => d !== local);
  const W = 640; const H = others.length > 2 ? 400 : 160; const cx = W / 2; const cy = H / 2; const R = 150;
  const pos = new Map([[local, [cx, cy]]]);
  others.forEach((d, i) => { // on an ellipse, starting on the right
    const a = (2 * Math.PI * i) / others.length + (others.length > 2 ? -Math.PI / 2 : 0);
    pos.set(d, [cx + R * 1.7 * Math.cos(a), cy + R * Math.sin(a)]);
  });
  const lines = [];
  const perTarget = new Map();
  for (const r of routes) perTarget.set(r.Datacenter, [...(perTarget.get(r.Datacenter) || []), r]);
  for (const [dc, rs] of perTarget) {
    const [x2, y2] = pos.get(dc);
    const len = Math.hypot(x2 - cx, y2 - cy) || 1;
    const [nx, ny] = [-(y2 - cy) / len, (x2 - cx) / len];
    rs.forEach((r, i) => { // parallel links side by side, their labels staggered along them
      const off = (i - (rs.length - 1) / 2) * 10;
      const [ax, ay, bx, by] = [cx + nx * off, cy + ny * off, x2 + nx * off, y2 + ny * off];
      const t = rs.length > 1 ? 0.35 + (0.3 * i) / (rs.length - 1) : 0.5;
      const side = off < 0 ? -14 : 14;
      lines.push(svg('g', { class: `fed-link path-${pathClass(r.Path)}${r.HealthyServers > 0 ? '' : ' down'}` },
        svg('title', null, `${local} → ${dc} via ${r.Path} (${r.PathID ?? ''}): ${fmtRtt(r.RTT)}`),
        svg('line', { x1: ax, y1: ay, x2: bx, y2: by }),
        svg('text', { x: ax + (bx - ax) * t + nx * side, y: ay + (by - ay) * t + ny * side + 4, class: 'fed-rtt' }, fmtRtt(r.RTT))));
    });
  }
  const nodes = [local, ...others].map((d) => {
    const [x, y] = pos.get(d);
    return svg('g', { class: `fed-node state-${state(d)}` },
      svg('circle', { cx: x, cy: y, r: 30 }),
      svg('text', { x, y: y - 2, class: 'fed-name' }, d),
      svg('text', { x, y: y + 12, class: 'fed-sub' }, state(d)));
  });
  return h('div', { class: 'map-wrap' },
    svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'fed-map', role: 'img', 'aria-labelledby': 'fed-map-title' },
      svg('title', { id: 'fed-map-title' }, `Datacenters as seen from ${local}: ${others.length} other(s)`),
      lines, nodes),
    h('p', { class: 'legend' },
      h('span', { class: 'legend-item path-wan' }, 'WAN'), ' ',
      h('span', { class: 'legend-item path-area' }, 'network area'), ' ',
      h('span', { class: 'legend-item path-multi-hop' }, 'multi-hop (dashed)')));
}

function fedMembers(list) {
  if (!Array.isArray(list) || !list.length) return empty('No WAN members.');
  return table('WAN members', ['Name', 'Address', 'Datacenter', 'Role', 'Status'], byName(list, (m) => m.Name).map((m) => {
    const [label, cls] = MEMBER_STATUS[m.Status] || [`status ${m.Status}`, 'unknown'];
    return h('tr', { 'data-test': 'fed-member', 'data-name': m.Name },
      h('th', { scope: 'row' }, m.Name),
      h('td', null, h('code', null, `${m.Addr}:${m.Port}`)),
      h('td', null, m.Tags?.dc || ''),
      h('td', null, m.Tags?.role || ''),
      h('td', null, badge(cls, label)));
  }));
}

function fedAreas(list) {
  if (!Array.isArray(list) || !list.length) return empty('No network areas.');
  return table('Network areas', ['ID', 'Peer datacenter', 'Retry join', 'TLS'], list.map((a) =>
    h('tr', { 'data-test': 'fed-area', 'data-id': a.ID },
      h('th', { scope: 'row' }, h('code', null, a.ID)),
      h('td', null, a.PeerDatacenter),
      h('td', null, (a.RetryJoin || []).join(', ')),
      h('td', null, a.UseTLS ? 'yes' : 'no'))));
}

async function fedGateways(ctx, names) {
  const results = await Promise.all(names.map((dc) => api('/v1/internal/ui/services', { dc }, { signal: ctx.signal })
    .then((r) => ({ dc, list: (r.data || []).filter((s) => s.Kind === 'mesh-gateway') }), (error) => ({ dc, error }))));
  return h('ul', { class: 'gw-list' }, results.map(({ dc, list, error }) =>
    h('li', { 'data-test': 'fed-gateways', 'data-datacenter': dc },
      h('strong', null, dc), ': ',
      error ? h('span', { class: 'section-error' }, errText(error))
        : list.length ? list.map((g, i) => [i ? ', ' : '', link(uiUrl(dc, `services/${enc(g.Name)}`), g.Name), ' ',
          healthSummary(g.ChecksPassing, g.ChecksWarning, g.ChecksCritical)])
          : muted('no mesh gateway'))));
}

/* ---------- Plugins ---------- */

function pagePlugins(ctx) {
  let plugins = null;
  const area = dataArea();
  const status = h('div', { class: 'status-slot' });
  const slot = h('select', { id: 'plugin-slot' });
  const file = h('input', { id: 'plugin-file', type: 'file', accept: '.wasm' });
  const config = h('textarea', { id: 'plugin-config', rows: 4, spellcheck: 'false', placeholder: '{}' });
  const load = h('button', { id: 'plugin-load', type: 'submit' }, 'Load');

  const draw = () => {
    swap(area, plugins.length
      ? table('Plugin slots', ['Slot / world', 'Component', 'Source', 'SHA-256', 'Loaded', 'Calls', 'Failures', 'State', 'Actions'],
        plugins.map((p) => pluginRow(p, revert)))
      : empty('No plugin slots.'));
    const slots = plugins.map((p) => p.Slot);
    if (slot.dataset.sig !== JSON.stringify(slots)) {
      const keep = slot.value;
      slot.replaceChildren(...slots.map((s) => h('option', { value: s }, s)));
      slot.dataset.sig = JSON.stringify(slots);
      if (slots.includes(keep)) slot.value = keep;
    }
  };
  const refreshNow = async () => {
    const r = await api('/v1/agent/plugins', null, { signal: ctx.signal });
    plugins = Array.isArray(r.data) ? r.data : [];
    draw();
  };
  function revert(p, button) {
    act(ctx, button, async () => {
      status.replaceChildren();
      const r = await api('/v1/agent/plugin/revert', { slot: p.Slot }, { method: 'PUT', signal: ctx.signal });
      status.replaceChildren(statusP(`Reverted ${r.data?.Slot || p.Slot} to ${r.data?.Component || 'its built-in'}`));
      await refreshNow();
    });
  }
  const onSubmit = (e) => {
    e.preventDefault();
    act(ctx, load, async () => {
      status.replaceChildren();
      const f = file.files[0];
      if (!slot.value) throw new Error('Choose a slot.');
      if (!f) throw new Error('Choose a .wasm file to load.');
      const cfg = config.value.trim();
      if (cfg) {
        let v;
        try { v = JSON.parse(cfg); } catch (err) { throw new Error(`The configuration is not valid JSON: ${err.message}`); }
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('The configuration must be a JSON object.');
      }
      const body = await f.arrayBuffer();
      const r = await api('/v1/agent/plugin/load', { slot: slot.value, config: cfg || undefined }, {
        method: 'PUT', body, signal: ctx.signal, headers: { 'Content-Type': 'application/wasm' },
      });
      status.replaceChildren(statusP(`Loaded ${r.data?.Component || f.name} into ${r.data?.Slot || slot.value}`));
      await refreshNow();
    });
  };
  ctx.mount(
    h('h1', null, 'Plugins'),
    h('p', { class: 'muted' }, 'Policy plugins of the agent serving this page (not of the selected datacenter).'),
    status,
    area,
    section('h-plugin-load', 'Load a plugin',
      h('form', { class: 'grid-form', onsubmit: onSubmit },
        labelled('plugin-slot', 'Slot', slot),
        labelled('plugin-file', 'WebAssembly component (.wasm)', file),
        labelled('plugin-config', 'Configuration (optional JSON object)', config),
        h('div', { class: 'actions' }, load))));
  live(ctx, '/v1/agent/plugins', null, (r) => {
    plugins = Array.isArray(r.data) ? r.data : [];
    draw();
    ctx.ready();
  }, { blocking: false, interval: 5000 });
}

function pluginRow(p, revert) {
  const state = String(p.State || '');
  const cls = state === 'active' ? 'passing' : state.startsWith('reverted') ? 'warning' : 'unknown';
  const sha = String(p.SHA256 || '');
  return h('tr', { 'data-test': 'plugin-row', 'data-slot': p.Slot },
    h('th', { scope: 'row' }, p.Slot, h('div', { class: 'sub' }, p.World || '')),
    h('td', null, p.Component || ''),
    h('td', null, p.Source || ''),
    h('td', null, h('code', { title: sha }, sha.slice(0, 12))),
    h('td', null, fmtTime(p.LoadedAt)),
    h('td', { class: 'num' }, String(p.Calls ?? 0)),
    h('td', { class: 'num' }, `${p.Failures ?? 0} (${p.ConsecutiveFailures ?? 0} in a row)`),
    h('td', null, badge(cls, state || 'unknown')),
    h('td', null, h('button', {
      type: 'button', class: 'secondary', 'data-test': 'plugin-revert', 'data-slot': p.Slot, 'data-fk': `revert:${p.Slot}`,
      onclick: (e) => revert(p, e.currentTarget),
    }, 'Revert')));
}

/* ---------- Not found ---------- */

function pageNotFound(ctx) {
  ctx.mount(
    h('h1', null, 'Not found'),
    h('p', null, 'There is no page at ', h('code', null, location.pathname), '.'),
    h('p', null, link(uiUrl(ctx.dc || app.dcs?.[0] || 'dc1', 'services'), 'Go to the services')));
  ctx.ready();
}

const PAGES = {
  services: pageServices,
  service: pageService,
  nodes: pageNodes,
  node: pageNode,
  'kv-folder': pageKvFolder,
  'kv-key': pageKvKey,
  'kv-create': pageKvCreate,
  intentions: pageIntentions,
  acl: pageAcl,
  login: pageLogin,
  federation: pageFederation,
  plugins: pagePlugins,
  notfound: pageNotFound,
};

/* ---------- start ---------- */

function start() {
  document.addEventListener('click', onLinkClick);
  // A fragment change (the skip link) also fires popstate: re-render only when the page changed.
  window.addEventListener('popstate', () => { if (location.pathname + location.search !== app.path) render(); });
  document.getElementById('dc-switcher').addEventListener('change', (e) => {
    if (app.route) navigate(switchPath(app.route, e.target.value));
  });
  render();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
