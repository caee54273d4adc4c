// The operator's view of AutoBuild: sites, nodes, queues, requests in flight, recent failures
// and one request's job chain, read from the JSON API every two seconds.
//
// Every text comes from the network and is hostile (host names, failure reasons, BMC texts):
// it only ever reaches the page through textContent / createTextNode, never as markup.
'use strict';

(() => {
  const TOKEN_KEY = 'autobuild.token';
  const REFRESH_MS = 2000;
  // Requests whose list entry has no `progress` get it from their job chain, for this many.
  const DETAILS_PER_REFRESH = 20;
  const FAILURES_SHOWN = 20;
  const CALL_TIMEOUT_MS = 8000;

  const view = { mode: null, detailId: null, refreshes: 0 };

  // --- DOM helpers: text only ---------------------------------------------------------------

  /** An element with `props` (className, title, dataset...) and text or node children. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key === 'className') node.className = value;
      else if (key === 'onclick') node.addEventListener('click', value);
      else node[key] = value;
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function replace(container, ...nodes) {
    container.replaceChildren(...nodes);
  }

  function note(text, error) {
    return el('p', { className: error ? 'note error' : 'note' }, text);
  }

  /** A table of `columns` (names, or [name, 'num']) and rows of cells (text or nodes). */
  function table(columns, rows, rowProps) {
    const head = el('tr', null, ...columns.map((c) => el('th', null, Array.isArray(c) ? c[0] : c)));
    const body = rows.map((cells, i) =>
      el('tr', rowProps ? rowProps(i) : null,
        ...cells.map((cell, j) => {
          const numeric = Array.isArray(columns[j]) && columns[j][1] === 'num';
          return el('td', numeric ? { className: 'num' } : null, cell);
        })));
    return el('table', null, el('thead', null, head), el('tbody', null, ...body));
  }

  // --- formatting ---------------------------------------------------------------------------

  function duration(ms) {
    if (typeof ms !== 'number' || !isFinite(ms)) return '';
    const s = Math.max(0, ms) / 1000;
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + Math.floor(s % 60) + ' s';
    const h = Math.floor(m / 60);
    if (h < 48) return h + ' h ' + (m % 60) + ' min';
    return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
  }

  function clock(ms) {
    if (typeof ms !== 'number' || ms <= 0) return '';
    return new Date(ms).toLocaleString();
  }

  function ago(ms) {
    if (typeof ms !== 'number' || ms <= 0) return '';
    return duration(Date.now() - ms) + ' ago';
  }

  function text(v) {
    return v === null || v === undefined ? '' : String(v);
  }

  // --- the API ------------------------------------------------------------------------------

  function token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch (e) {
      return '';
    }
  }

  /** GET `path`: {status, body} (body: the parsed JSON or null); status 0 when unreachable. */
  async function api(path) {
    const headers = { Accept: 'application/json' };
    const t = token();
    if (t) headers.Authorization = 'Bearer ' + t;
    // A call that hangs must not stop the view: each has a deadline, its body included.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), CALL_TIMEOUT_MS);
    let answer;
    let body = null;
    try {
      answer = await fetch(path, { headers, cache: 'no-store', credentials: 'omit',
        signal: abort.signal });
      try {
        body = await answer.json();
      } catch (e) {
        body = null;
      }
    } catch (e) {
      return { status: 0, body: null, error: 'no answer from ' + path + ' (' + e.message + ')' };
    } finally {
      clearTimeout(timer);
    }
    return { status: answer.status, body };
  }

  /** The sentence of an error answer. */
  function why(res) {
    if (res.error) return res.error;
    const e = res.body && res.body.error;
    if (e && typeof e === 'object') return text(e.code) + ': ' + text(e.message);
    return 'HTTP ' + res.status;
  }

  function siteQuery(site, extra) {
    const parts = [];
    if (view.mode === 'router') parts.push('site=' + encodeURIComponent(site));
    if (extra) parts.push(extra);
    return parts.length ? '?' + parts.join('&') : '';
  }

  // --- gathering ----------------------------------------------------------------------------

  /** The sites as `GET /v1/cluster` shows them (a router), or the node itself (a node). */
  async function topology() {
    if (view.mode !== 'node') {
      const res = await api('/v1/cluster');
      if (res.status === 200 && res.body && Array.isArray(res.body.sites)) {
        view.mode = 'router';
        return { sites: res.body.sites, router: res.body.router };
      }
      if (res.status !== 404) return { failure: res };
      view.mode = 'node';
    }
    const res = await api('/v1/node');
    if (res.status !== 200 || !res.body) return { failure: res };
    const n = res.body;
    const cluster = text(n.cluster) || 'all';
    const clusters = {};
    clusters[cluster] = [{ node_id: n.node_id, health: n.draining ? 'draining' : 'fresh',
      heartbeat_age_ms: null, self: true }];
    return { sites: [{ site: text(n.site), site_id: n.site_id, live_nodes: 1, clusters }] };
  }

  async function site_data(site) {
    const [queue, running, queued, failed] = await Promise.all([
      api('/v1/queue' + siteQuery(site)),
      api('/v1/requests' + siteQuery(site, 'state=running&limit=100')),
      api('/v1/requests' + siteQuery(site, 'state=queued&limit=100')),
      api('/v1/requests' + siteQuery(site, 'state=failed&limit=' + FAILURES_SHOWN)),
    ]);
    const list = (res) => (res.status === 200 && res.body && Array.isArray(res.body.requests)
      ? res.body.requests : []);
    const inflight = list(running).concat(list(queued));
    const problems = [running, queued, failed].filter((r) => r.status !== 200);
    return { site, queue, inflight, failed: list(failed), problems };
  }

  /** The progress of a request from its job chain: jobs done of all jobs. */
  function progress_of(detail) {
    if (!detail || !Array.isArray(detail.jobs)) return null;
    const done = detail.jobs.filter((j) => j.state === 'done').length;
    return { done, total: detail.jobs.length };
  }

  async function fill_progress(requests) {
    const missing = requests.filter((r) => !r.progress).slice(0, DETAILS_PER_REFRESH);
    await Promise.all(missing.map(async (r) => {
      const res = await api('/v1/requests/' + encodeURIComponent(r.id));
      if (res.status === 200 && res.body) {
        const p = res.body.progress || progress_of(res.body);
        if (p) r.progress = p;
        if (res.body.eta && !r.eta) r.eta = res.body.eta;
      }
    }));
  }

  // --- rendering ----------------------------------------------------------------------------

  function render_sites(sites) {
    const rows = [];
    const props = [];
    for (const s of sites) {
      const clusters = s.clusters && typeof s.clusters === 'object' ? s.clusters : {};
      for (const [cluster, nodes] of Object.entries(clusters)) {
        for (const n of Array.isArray(nodes) ? nodes : []) {
          const health = text(n.health);
          rows.push([
            text(s.site), cluster, text(n.node_id),
            el('span', {
              className: 'health health-' + health.replace(/[^a-z_]/g, ''),
              // Why a router never calls it (a protocol it does not speak), on hover.
              title: n.incompatible_reason ? text(n.incompatible_reason) : '',
            }, health),
            n.self ? 'this node' : duration(n.heartbeat_age_ms),
            text(n.load), n.self ? '' : text(n.api_in_flight) + ' / ' + text(n.router_in_flight),
            text(n.version), text(n.api_url),
          ]);
          props.push({ dataset: { node: text(n.node_id), health } });
        }
      }
    }
    if (!rows.length) return replace(byId('sites'), note('No node has announced itself yet.'));
    const summary = sites.map((s) => text(s.site) + ': ' + text(s.live_nodes) + ' live').join(', ');
    replace(byId('sites'), note(summary),
      table(['Site', 'Cluster', 'Node', 'Health', 'Heartbeat age', 'Load',
        'API / router in flight', 'Version', 'URL'], rows, (i) => props[i]));
  }

  function render_queues(data) {
    const rows = [];
    const notes = [];
    for (const d of data) {
      if (d.unserved) {
        notes.push(note(d.site + ': ' + d.unserved, true));
        continue;
      }
      if (d.queue.status === 404) {
        notes.push(note(d.site + ': this node gives no queue figures (GET /v1/queue).'));
        continue;
      }
      if (d.queue.status !== 200 || !d.queue.body) {
        notes.push(note(d.site + ': ' + why(d.queue), true));
        continue;
      }
      const clusters = Array.isArray(d.queue.body.clusters) ? d.queue.body.clusters : [];
      for (const c of clusters) {
        rows.push([d.site, text(c.cluster), text(c.job_type), text(c.action), text(c['class']),
          text(c.depth),
          duration(c.oldest_wait_ms), text(c.completed_per_min)]);
      }
    }
    const out = notes;
    if (rows.length) {
      out.push(table(['Site', 'Cluster', 'Job type', 'Action', 'Class', ['Depth', 'num'],
        'Oldest wait',
        ['Done / min', 'num']], rows));
    } else if (!notes.length) {
      out.push(note('Every queue is empty.'));
    }
    replace(byId('queues'), ...out);
  }

  function open_button(id) {
    return el('button', { type: 'button', className: 'link', onclick: () => open_detail(id) },
      text(id));
  }

  function progress_cell(p) {
    if (!p || typeof p.total !== 'number') return '';
    const bar = el('progress', { max: Math.max(1, p.total), value: Math.min(p.done, p.total) });
    return el('span', null, bar, ' ',
      el('span', { className: 'progress-text' }, text(p.done) + '/' + text(p.total)));
  }

  function eta_cell(eta) {
    if (!eta || typeof eta.at_ms !== 'number') return '';
    const range = clock(eta.earliest_ms) + ' – ' + clock(eta.latest_ms);
    return el('span', { className: 'eta', title: 'range ' + range + '; basis: ' + text(eta.basis) },
      'in ' + duration(eta.at_ms - Date.now()) + ' (' + clock(eta.at_ms) + ')');
  }

  function render_inflight(data) {
    const all = [];
    for (const d of data) for (const r of d.inflight) all.push(r);
    all.sort((a, b) => (a.id < b.id ? -1 : 1));
    const notes = data.filter((d) => d.problems && d.problems.length)
      .map((d) => note(d.site + ': ' + why(d.problems[0]), true));
    if (!all.length) return replace(byId('inflight'), ...notes, note('Nothing in flight.'));
    const rows = all.map((r) => [open_button(r.id), text(r.site), text(r.host), text(r.action),
      el('span', { className: 'state-' + text(r.state) }, text(r.state)), text(r.priority),
      progress_cell(r.progress), eta_cell(r.eta), ago(r.created_at)]);
    replace(byId('inflight'), ...notes,
      table(['Request', 'Site', 'Host', 'Action', 'State', 'Class', 'Progress', 'ETA',
        'Submitted'], rows, (i) => ({ dataset: { request: text(all[i].id) } })));
  }

  function render_failures(data) {
    const all = [];
    for (const d of data) for (const r of d.failed) all.push(r);
    all.sort((a, b) => (b.finished_at || 0) - (a.finished_at || 0));
    const shown = all.slice(0, FAILURES_SHOWN);
    if (!shown.length) return replace(byId('failures'), note('No failed request.'));
    const rows = shown.map((r) => [open_button(r.id), text(r.site), text(r.host), text(r.action),
      ago(r.finished_at), el('span', { className: 'reason' }, text(r.error))]);
    replace(byId('failures'),
      table(['Request', 'Site', 'Host', 'Action', 'Failed', 'Reason'], rows,
        (i) => ({ dataset: { request: text(shown[i].id) } })));
  }

  function render_detail(res) {
    const box = byId('detail');
    if (res.status !== 200 || !res.body) return replace(box, note(why(res), true));
    const r = res.body;
    const fields = [['Action', r.action], ['Host', r.host], ['Site', r.site], ['State', r.state],
      ['Class', r.priority], ['Submitter', r.submitter], ['Submitted', clock(r.created_at)],
      ['Started', clock(r.started_at)], ['Finished', clock(r.finished_at)],
      ['Waiting for', r.waiting_for], ['Reason', r.error]];
    const list = el('dl', null);
    for (const [name, value] of fields) {
      if (value === undefined || value === null || value === '') continue;
      list.append(el('dt', null, name), el('dd', name === 'Reason' ? { className: 'reason' } : null,
        text(value)));
    }
    const p = r.progress || progress_of(r);
    if (p) list.append(el('dt', null, 'Progress'), el('dd', null, progress_cell(p)));
    if (r.eta) list.append(el('dt', null, 'ETA'), el('dd', null, eta_cell(r.eta)));
    const jobs = Array.isArray(r.jobs) ? r.jobs : [];
    const rows = jobs.map((j) => [text(j.position), text(j.type),
      el('span', { className: 'state-' + text(j.state) }, text(j.state)),
      text(j.attempts) + ' / ' + text(j.max_attempts), clock(j.started_at), clock(j.finished_at),
      el('span', { className: 'reason' }, text(j.error))]);
    replace(box, list, el('h3', null, 'Job chain'),
      table([['#', 'num'], 'Job', 'State', 'Attempts', 'Started', 'Finished', 'Error'], rows,
        (i) => ({ dataset: { job: text(jobs[i].position) } })));
  }

  function set_status(message, error) {
    const s = byId('status');
    s.textContent = message;
    s.className = error ? 'error' : '';
  }

  // --- the loop -----------------------------------------------------------------------------

  async function refresh() {
    const top = await topology();
    if (top.failure) {
      const f = top.failure;
      const hint = f.status === 401 ? ' (enter a token)' : '';
      set_status('Cannot read the cluster: ' + why(f) + hint, true);
      return;
    }
    byId('served-by').textContent = view.mode === 'router' ? 'through a router' : 'on a node';
    render_sites(top.sites);
    const data = await Promise.all(top.sites.map((s) => {
      const site = text(s.site);
      if (view.mode === 'router' && !(s.live_nodes > 0)) {
        return { site, unserved: 'no live node: its queues and requests cannot be read now',
          inflight: [], failed: [], problems: [] };
      }
      return site_data(site);
    }));
    const inflight = [];
    for (const d of data) for (const r of d.inflight) inflight.push(r);
    await fill_progress(inflight);
    render_queues(data);
    render_inflight(data);
    render_failures(data);
    if (view.detailId !== null) render_detail(await api('/v1/requests/'
      + encodeURIComponent(view.detailId)));
    set_status('Updated ' + new Date().toLocaleTimeString(), false);
  }

  async function loop() {
    try {
      if (!document.hidden) await refresh();
    } catch (e) {
      set_status('Refresh failed: ' + e.message, true);
    }
    view.refreshes += 1;
    document.body.dataset.refreshes = String(view.refreshes);
    setTimeout(loop, REFRESH_MS);
  }

  async function open_detail(id) {
    view.detailId = id;
    byId('detail-section').hidden = false;
    byId('detail-id').textContent = text(id);
    render_detail(await api('/v1/requests/' + encodeURIComponent(id)));
  }

  function show_token_state() {
    byId('token-state').textContent = token() ? 'token set for this tab' : 'no token';
  }

  function start() {
    byId('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = byId('token');
      const t = input.value.trim();
      input.value = '';
      try {
        if (t) sessionStorage.setItem(TOKEN_KEY, t);
      } catch (e) {
        set_status('This browser keeps no session storage: ' + e.message, true);
      }
      show_token_state();
      refresh().catch((e) => set_status('Refresh failed: ' + e.message, true));
    });
    byId('token-forget').addEventListener('click', () => {
      try {
        sessionStorage.removeItem(TOKEN_KEY);
      } catch (e) {
        // Nothing kept, nothing to forget.
      }
      show_token_state();
    });
    byId('detail-close').addEventListener('click', () => {
      view.detailId = null;
      byId('detail-section').hidden = true;
    });
    show_token_state();
    loop();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
