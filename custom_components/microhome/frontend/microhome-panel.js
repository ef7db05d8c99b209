// MicroHome sidebar panel: node list, live log table, settings and the fleet key.
// A plain ES module web component (no build step). Every value that comes from a node or
// from the user is put into the page with textContent, never as HTML.

const MAX_ROWS = 2000;
const REPLAY = 200;
const PAGE = 5000;
const NODE_REFRESH_MS = 10000;

const STYLE = `
:host {
  display: block;
  min-height: 100%;
  background: var(--primary-background-color);
  color: var(--primary-text-color);
  font-family: var(--ha-font-family-body, var(--paper-font-body1_-_font-family, Roboto, sans-serif));
  font-size: 14px;
}
.toolbar {
  display: flex;
  align-items: center;
  gap: 8px;
  height: var(--header-height, 56px);
  padding: 0 12px;
  background: var(--app-header-background-color, var(--primary-color));
  color: var(--app-header-text-color, var(--text-primary-color, #fff));
  border-bottom: 1px solid var(--app-header-border-bottom, transparent);
  box-sizing: border-box;
}
.toolbar .title { font-size: 20px; flex: 1; }
.tabs button {
  background: none;
  border: none;
  border-bottom: 2px solid transparent;
  color: inherit;
  font: inherit;
  padding: 8px 12px;
  cursor: pointer;
  opacity: 0.75;
}
.tabs button[aria-selected="true"] { opacity: 1; border-bottom-color: currentColor; }
main { padding: 16px; max-width: 1400px; margin: 0 auto; box-sizing: border-box; }
.card {
  background: var(--ha-card-background, var(--card-background-color, #fff));
  border-radius: var(--ha-card-border-radius, 12px);
  border: 1px solid var(--ha-card-border-color, var(--divider-color, #e0e0e0));
  box-shadow: var(--ha-card-box-shadow, none);
  margin-bottom: 16px;
  overflow: hidden;
}
.card h2 { font-size: 16px; font-weight: 500; margin: 0; padding: 12px 16px; }
.card .content { padding: 0 16px 16px; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 4px 8px; vertical-align: top; }
th {
  font-weight: 500;
  color: var(--secondary-text-color);
  border-bottom: 1px solid var(--divider-color);
  position: sticky;
  top: 0;
  background: var(--ha-card-background, var(--card-background-color, #fff));
}
.nodes tbody tr { cursor: pointer; }
.nodes tbody tr:hover, .nodes tbody tr.selected { background: var(--secondary-background-color); }
.dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 6px;
  background: var(--disabled-text-color, #999); }
.dot.online { background: var(--success-color, #43a047); }
.dot.offline { background: var(--error-color, #db4437); }
.lost { color: var(--warning-color, #ffa600); font-weight: 500; }
.filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; padding: 12px 16px; }
.filters .spacer { flex: 1; }
input, select {
  font: inherit;
  color: var(--primary-text-color);
  background: var(--secondary-background-color, var(--card-background-color));
  border: 1px solid var(--divider-color);
  border-radius: 6px;
  padding: 6px 8px;
}
input[type="search"] { min-width: 200px; }
button.action {
  font: inherit;
  cursor: pointer;
  border-radius: 6px;
  padding: 6px 12px;
  border: 1px solid var(--primary-color);
  background: transparent;
  color: var(--primary-color);
}
button.action.primary { background: var(--primary-color); color: var(--text-primary-color, #fff); }
button.action.danger { border-color: var(--error-color, #db4437); color: var(--error-color, #db4437); }
button.action.danger.primary { background: var(--error-color, #db4437); color: #fff; }
button.action:disabled { opacity: 0.5; cursor: default; }
.status { padding: 0 16px 8px; color: var(--secondary-text-color); display: flex; gap: 12px; }
.status .live::before { content: "●"; color: var(--success-color, #43a047); margin-right: 4px; }
.status .paused::before { content: "❚❚"; color: var(--warning-color, #ffa600); margin-right: 4px; }
.confirm {
  display: flex; gap: 8px; align-items: center; padding: 8px 16px;
  background: var(--secondary-background-color);
  border-top: 1px solid var(--divider-color);
}
.confirm[hidden] { display: none; }
.log-wrap { max-height: 70vh; overflow: auto; border-top: 1px solid var(--divider-color); }
.log td { font-family: var(--ha-font-family-code, ui-monospace, monospace); font-size: 12.5px;
  border-bottom: 1px solid var(--divider-color); }
.log td.time, .log td.node, .log td.level, .log td.source { white-space: nowrap; }
.log td.message { white-space: pre-wrap; word-break: break-word; width: 100%; }
.level-D { color: var(--secondary-text-color); }
.level-I { color: var(--info-color, #039be5); }
.level-W { color: var(--warning-color, #ffa600); }
.level-E { color: var(--error-color, #db4437); }
.level-C { color: #fff; background: var(--error-color, #db4437); border-radius: 4px; }
tr.kind-boot td { background: var(--secondary-background-color); font-weight: 500; }
tr.kind-gap td.message { color: var(--warning-color, #ffa600); font-style: italic; }
.empty { padding: 16px; color: var(--secondary-text-color); }
.more { padding: 8px 16px; }
.form { display: grid; grid-template-columns: max-content 1fr; gap: 12px 16px; align-items: center; }
.form .hint { grid-column: 2; color: var(--secondary-text-color); font-size: 12px; margin-top: -8px; }
.form .pair { display: flex; gap: 8px; align-items: center; }
.message-line { margin-top: 12px; min-height: 1.2em; }
.message-line.error { color: var(--error-color, #db4437); }
.message-line.ok { color: var(--success-color, #43a047); }
code.block {
  display: block; padding: 8px; margin: 8px 0; border-radius: 6px; overflow-x: auto;
  background: var(--secondary-background-color); white-space: pre-wrap; word-break: break-all;
  font-family: var(--ha-font-family-code, ui-monospace, monospace);
}
[hidden] { display: none !important; }
`;

const TEMPLATE = `
<div class="toolbar">
  <span class="menu"></span>
  <span class="title">MicroHome</span>
  <span class="tabs" role="tablist">
    <button id="tab-logs" role="tab" aria-selected="true">Logs</button>
    <button id="tab-settings" role="tab" aria-selected="false">Settings</button>
  </span>
</div>
<main>
  <section id="view-logs">
    <div class="card">
      <h2>Nodes</h2>
      <table class="nodes">
        <thead><tr><th>Node</th><th>Status</th><th>Firmware</th><th>Last seen</th>
          <th>Lost lines</th></tr></thead>
        <tbody id="nodes"></tbody>
      </table>
      <div class="empty" id="nodes-empty">No nodes yet.</div>
    </div>
    <div class="card">
      <div class="filters">
        <select id="node-filter" aria-label="Node"><option value="">All nodes</option></select>
        <select id="level" aria-label="Minimum level">
          <option value="D">Debug and above</option>
          <option value="I">Info and above</option>
          <option value="W">Warning and above</option>
          <option value="E">Error and above</option>
          <option value="C">Critical only</option>
        </select>
        <input id="text" type="search" placeholder="Search messages" aria-label="Search">
        <span class="spacer"></span>
        <button class="action" id="pause">Pause</button>
        <button class="action" id="download">Download</button>
        <button class="action danger" id="clear">Clear</button>
      </div>
      <div class="confirm" id="confirm" hidden>
        <span id="confirm-text"></span>
        <button class="action" id="confirm-cancel">Cancel</button>
        <button class="action danger primary" id="confirm-clear">Clear logs</button>
      </div>
      <div class="status"><span id="tail" class="live">Live</span><span id="count"></span></div>
      <div class="log-wrap">
        <table class="log">
          <thead><tr><th>Time</th><th>Node</th><th>Level</th><th>Source</th><th>Message</th></tr></thead>
          <tbody id="rows"></tbody>
        </table>
        <div class="empty" id="rows-empty">No log lines match.</div>
        <div class="more" id="more" hidden><button class="action" id="load-more">Load older lines</button></div>
      </div>
    </div>
  </section>
  <section id="view-settings" hidden>
    <div class="card">
      <h2>Settings</h2>
      <div class="content">
        <form class="form" id="settings-form">
          <label for="ftp_port">FTP port</label>
          <input id="ftp_port" type="number" min="1" max="65535" required>
          <label for="passive_first">FTP passive ports</label>
          <span class="pair">
            <input id="passive_first" type="number" min="1" max="65535" required>
            <span>to</span>
            <input id="passive_last" type="number" min="1" max="65535" required>
          </span>
          <label for="ha_address">Home Assistant address for nodes</label>
          <input id="ha_address" type="text" autocomplete="off">
          <span class="hint" id="ha_address_hint"></span>
          <label for="log_history">Log lines kept per node</label>
          <input id="log_history" type="number" min="100" max="100000" required>
          <span></span>
          <span><button class="action primary" id="save" type="submit">Save</button></span>
        </form>
        <div class="message-line" id="settings-message" role="status"></div>
      </div>
    </div>
    <div class="card">
      <h2>Fleet key</h2>
      <div class="content">
        <p>Nodes are flashed with a key derived from the fleet key. Keep it secret.</p>
        <code class="block" id="fleet-key">••••••••••••••••••••••••••••••••</code>
        <button class="action" id="reveal">Reveal</button>
        <div id="flash" hidden>
          <p>Flash a board with this command (fill in your Wi-Fi):</p>
          <code class="block" id="flash-command"></code>
          <button class="action" id="copy">Copy command</button>
          <span id="copy-result"></span>
          <p id="login-hint">If your broker asks for a login, give each node its own, not Home
            Assistant's: with the Mosquitto broker add-on, add an entry (username and password)
            to its <em>Logins</em> option, restart it, and put that login in place of
            NODE_MQTT_USER and NODE_MQTT_PASSWORD.</p>
        </div>
      </div>
    </div>
  </section>
</main>
`;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function pad(value, width = 2) {
  return String(value).padStart(width, "0");
}

function formatTime(seconds) {
  const date = new Date(seconds * 1000);
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return time;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${time}`;
}

function formatAgo(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  const ago = Math.max(0, Date.now() / 1000 - seconds);
  if (ago < 60) return `${Math.round(ago)} s ago`;
  if (ago < 3600) return `${Math.round(ago / 60)} min ago`;
  if (ago < 86400) return `${Math.round(ago / 3600)} h ago`;
  return new Date(seconds * 1000).toLocaleString();
}

class MicroHomePanel extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this._hass = null;
    this._narrow = false;
    this._started = false;
    this._unsubscribe = null;
    this._subscription = 0;
    this._paused = false;
    this._pending = [];
    this._rowCount = 0;
    this._oldestId = null;
    this._nodes = [];
    this._nodeTimer = null;
    this._textTimer = null;
    this._filter = { node: "", level: "D", text: "" };
  }

  set hass(hass) {
    this._hass = hass;
    if (this._menuButton) this._menuButton.hass = hass;
    if (!this._started && this.isConnected) this._start();
  }

  get hass() {
    return this._hass;
  }

  set narrow(narrow) {
    this._narrow = narrow;
    if (this._menuButton) this._menuButton.narrow = narrow;
  }

  set panel(_panel) {}

  set route(_route) {}

  connectedCallback() {
    if (!this._rendered) this._render();
    if (this._hass && !this._started) this._start();
  }

  disconnectedCallback() {
    this._stop();
  }

  _$(id) {
    return this.shadowRoot.getElementById(id);
  }

  _render() {
    this._rendered = true;
    const style = el("style");
    style.textContent = STYLE;
    const holder = document.createElement("div");
    holder.innerHTML = TEMPLATE; // static markup only, no data
    this.shadowRoot.append(style, ...holder.childNodes);
    if (customElements.get("ha-menu-button")) {
      this._menuButton = document.createElement("ha-menu-button");
      this._menuButton.hass = this._hass;
      this._menuButton.narrow = this._narrow;
      this.shadowRoot.querySelector(".menu").append(this._menuButton);
    }
    this._$("tab-logs").addEventListener("click", () => this._showTab("logs"));
    this._$("tab-settings").addEventListener("click", () => this._showTab("settings"));
    this._$("node-filter").addEventListener("change", (ev) => this._setFilter({ node: ev.target.value }));
    this._$("level").addEventListener("change", (ev) => this._setFilter({ level: ev.target.value }));
    this._$("text").addEventListener("input", (ev) => {
      // Read the value now: after dispatch an event from a shadow tree has no target.
      const text = ev.target.value;
      clearTimeout(this._textTimer);
      this._textTimer = setTimeout(() => this._setFilter({ text }), 250);
    });
    this._$("pause").addEventListener("click", () => this._togglePause());
    this._$("download").addEventListener("click", () => this._download());
    this._$("clear").addEventListener("click", () => this._askClear());
    this._$("confirm-cancel").addEventListener("click", () => (this._$("confirm").hidden = true));
    this._$("confirm-clear").addEventListener("click", () => this._clear());
    this._$("load-more").addEventListener("click", () => this._loadOlder());
    this._$("settings-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._saveSettings();
    });
    this._$("reveal").addEventListener("click", () => this._toggleFleetKey());
    this._$("copy").addEventListener("click", () => this._copyCommand());
  }

  _start() {
    this._started = true;
    this._refreshNodes();
    this._nodeTimer = setInterval(() => this._refreshNodes(), NODE_REFRESH_MS);
    this._subscribe();
  }

  _stop() {
    this._started = false;
    clearInterval(this._nodeTimer);
    this._nodeTimer = null;
    this._unsubscribeLogs();
  }

  _showTab(tab) {
    const logs = tab === "logs";
    this._$("tab-logs").setAttribute("aria-selected", String(logs));
    this._$("tab-settings").setAttribute("aria-selected", String(!logs));
    this._$("view-logs").hidden = !logs;
    this._$("view-settings").hidden = logs;
    if (!logs) this._loadSettings();
  }

  // --- nodes ---------------------------------------------------------------------------------

  async _refreshNodes() {
    if (!this._hass) return;
    try {
      const result = await this._hass.callWS({ type: "microhome/nodes/list" });
      this._nodes = result.nodes;
    } catch (err) {
      return;
    }
    this._renderNodes();
  }

  _renderNodes() {
    const body = this._$("nodes");
    const rows = this._nodes.map((node) => {
      const row = el("tr");
      row.dataset.node = node.id;
      if (node.id === this._filter.node) row.classList.add("selected");
      const name = el("td");
      name.append(el("div", "", node.name));
      if (node.name !== node.id) name.append(el("div", "level-D", node.id));
      const status = el("td");
      const state = node.online === true ? "online" : node.online === false ? "offline" : "";
      status.append(el("span", `dot ${state}`), document.createTextNode(state || "unknown"));
      const lost = el("td", node.lost ? "lost" : "", node.lost);
      row.append(name, status, el("td", "", node.firmware || "–"), el("td", "", formatAgo(node.last_seen)), lost);
      row.addEventListener("click", () => {
        const value = this._filter.node === node.id ? "" : node.id;
        this._$("node-filter").value = value;
        this._setFilter({ node: value });
      });
      return row;
    });
    body.replaceChildren(...rows);
    this._$("nodes-empty").hidden = rows.length > 0;
    const select = this._$("node-filter");
    const options = [el("option", "", "All nodes")];
    options[0].value = "";
    for (const node of this._nodes) {
      const option = el("option", "", node.name === node.id ? node.id : `${node.name} (${node.id})`);
      option.value = node.id;
      options.push(option);
    }
    select.replaceChildren(...options);
    select.value = this._filter.node;
  }

  // --- log table -----------------------------------------------------------------------------

  _query() {
    const query = { min_level: this._filter.level, text: this._filter.text };
    if (this._filter.node) query.nodes = [this._filter.node];
    return query;
  }

  _setFilter(change) {
    Object.assign(this._filter, change);
    for (const row of this._$("nodes").children) {
      row.classList.toggle("selected", row.dataset.node === this._filter.node);
    }
    this._subscribe();
  }

  _unsubscribeLogs() {
    const unsubscribe = this._unsubscribe;
    this._unsubscribe = null;
    if (unsubscribe) unsubscribe.then((unsub) => unsub()).catch(() => {});
  }

  _subscribe() {
    if (!this._hass) return;
    this._unsubscribeLogs();
    const subscription = ++this._subscription;
    this._pending = [];
    this._clearRows();
    this._unsubscribe = this._hass.connection.subscribeMessage(
      (event) => {
        if (subscription === this._subscription) this._onEvent(event);
      },
      { type: "microhome/logs/subscribe", replay: REPLAY, ...this._query() },
    );
    this._unsubscribe.catch((err) => this._showStatus(`Cannot load logs: ${err.message || err.code || err}`));
  }

  _onEvent(event) {
    if ("cleared" in event) {
      if (event.cleared === null || event.cleared === this._filter.node || !this._filter.node) this._subscribe();
      return;
    }
    if (event.replay) {
      this._addRows(event.entries);
      this._$("rows").dataset.loaded = "true";
      this._$("more").hidden = event.entries.length < REPLAY;
      return;
    }
    if (this._paused) {
      this._pending.push(...event.entries);
      this._updateStatus();
      return;
    }
    this._addRows(event.entries);
    if (event.entries.some((entry) => !this._nodes.some((node) => node.id === entry.node))) {
      this._refreshNodes();
    }
  }

  _clearRows() {
    this._$("rows").replaceChildren();
    delete this._$("rows").dataset.loaded;
    this._rowCount = 0;
    this._oldestId = null;
    this._$("more").hidden = true;
    this._updateStatus();
  }

  _row(entry) {
    const row = el("tr", `entry kind-${entry.kind}`);
    row.dataset.id = entry.id;
    row.dataset.level = entry.level;
    row.dataset.node = entry.node;
    row.append(
      el("td", "time", formatTime(entry.time)),
      el("td", "node", entry.node),
      el("td", "level", ""),
      el("td", "source", entry.source),
      el("td", "message", entry.message),
    );
    // The level's name comes with the line (protocol.LOG_LEVEL_NAMES), capitalised here.
    const name = entry.level_name || entry.level;
    row.children[2].append(el("span", `level-${entry.level}`, name[0].toUpperCase() + name.slice(1)));
    return row;
  }

  // `entries` oldest first; they are newer than every row shown.
  _addRows(entries) {
    if (!entries.length) return;
    const body = this._$("rows");
    const fragment = document.createDocumentFragment();
    for (let index = entries.length - 1; index >= 0; index--) fragment.append(this._row(entries[index]));
    body.prepend(fragment);
    this._rowCount += entries.length;
    if (this._oldestId === null) this._oldestId = entries[0].id;
    while (this._rowCount > MAX_ROWS) {
      body.lastElementChild.remove();
      this._rowCount--;
      this._oldestId = Number(body.lastElementChild.dataset.id);
      this._$("more").hidden = false;
    }
    this._updateStatus();
  }

  async _loadOlder() {
    if (this._oldestId === null) return;
    const result = await this._hass.callWS({
      type: "microhome/logs/list",
      ...this._query(),
      before: this._oldestId,
      limit: REPLAY,
    });
    const body = this._$("rows");
    const fragment = document.createDocumentFragment();
    for (const entry of result.entries) fragment.append(this._row(entry));
    body.append(fragment);
    this._rowCount += result.entries.length;
    if (result.entries.length) this._oldestId = result.entries[result.entries.length - 1].id;
    this._$("more").hidden = !result.more;
    this._updateStatus();
  }

  _togglePause() {
    this._paused = !this._paused;
    this._$("pause").textContent = this._paused ? "Resume" : "Pause";
    if (!this._paused && this._pending.length) {
      const pending = this._pending;
      this._pending = [];
      this._addRows(pending);
    }
    this._updateStatus();
  }

  _updateStatus() {
    const tail = this._$("tail");
    tail.className = this._paused ? "paused" : "live";
    tail.textContent = this._paused
      ? `Paused${this._pending.length ? ` — ${this._pending.length} new lines` : ""}`
      : "Live";
    this._$("count").textContent = `${this._rowCount} lines shown`;
    this._$("rows-empty").hidden = this._rowCount > 0;
  }

  _showStatus(text) {
    this._$("count").textContent = text;
  }

  async _download() {
    const lines = [];
    let before;
    for (;;) {
      const query = { type: "microhome/logs/list", ...this._query(), limit: PAGE };
      if (before !== undefined) query.before = before;
      const result = await this._hass.callWS(query);
      for (const entry of result.entries) {
        const time = new Date(entry.time * 1000).toISOString();
        lines.push(`${time} ${entry.node} ${entry.level} ${entry.source}: ${entry.message}`);
      }
      if (!result.more) break;
      before = result.next_before;
    }
    lines.reverse();
    const blob = new Blob([lines.join("\n") + (lines.length ? "\n" : "")], { type: "text/plain" });
    const link = document.createElement("a");
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    link.href = URL.createObjectURL(blob);
    link.download = `microhome-logs${this._filter.node ? `-${this._filter.node}` : ""}-${stamp}.txt`;
    this.shadowRoot.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  _askClear() {
    const target = this._filter.node ? `node ${this._filter.node}` : "all nodes";
    this._$("confirm-text").textContent = `Clear the stored log lines of ${target}? This cannot be undone.`;
    this._$("confirm").hidden = false;
  }

  async _clear() {
    this._$("confirm").hidden = true;
    const message = { type: "microhome/logs/clear" };
    if (this._filter.node) message.node = this._filter.node;
    await this._hass.callWS(message);
    this._refreshNodes();
  }

  // --- settings ------------------------------------------------------------------------------

  async _loadSettings() {
    const result = await this._hass.callWS({ type: "microhome/settings/get" });
    const settings = result.settings;
    this._$("ftp_port").value = settings.ftp_port;
    this._$("passive_first").value = settings.ftp_passive_ports[0];
    this._$("passive_last").value = settings.ftp_passive_ports[1];
    this._$("ha_address").value = settings.ha_address;
    this._$("ha_address").placeholder = `automatic: ${result.ha_address_default}`;
    this._$("ha_address_hint").textContent =
      `Leave empty to use Home Assistant's own address (${result.ha_address_default}).`;
    this._$("log_history").value = settings.log_history;
  }

  async _saveSettings() {
    const line = this._$("settings-message");
    line.className = "message-line";
    line.textContent = "";
    try {
      await this._hass.callWS({
        type: "microhome/settings/set",
        ftp_port: Number(this._$("ftp_port").value),
        ftp_passive_ports: [Number(this._$("passive_first").value), Number(this._$("passive_last").value)],
        ha_address: this._$("ha_address").value.trim(),
        log_history: Number(this._$("log_history").value),
      });
      line.classList.add("ok");
      line.textContent = "Saved.";
    } catch (err) {
      line.classList.add("error");
      line.textContent = `Not saved: ${err.message || err.code || err}`;
    }
  }

  async _toggleFleetKey() {
    const key = this._$("fleet-key");
    if (this._revealed) {
      this._revealed = false;
      key.textContent = "••••••••••••••••••••••••••••••••";
      this._$("flash").hidden = true;
      this._$("reveal").textContent = "Reveal";
      return;
    }
    const result = await this._hass.callWS({ type: "microhome/fleet_key/get" });
    this._revealed = true;
    key.textContent = result.fleet_key;
    this._$("flash-command").textContent = result.command;
    this._$("flash").hidden = false;
    this._$("reveal").textContent = "Hide";
  }

  async _copyCommand() {
    const text = this._$("flash-command").textContent;
    const result = this._$("copy-result");
    try {
      await navigator.clipboard.writeText(text);
      result.textContent = "Copied.";
    } catch (err) {
      const range = document.createRange();
      range.selectNodeContents(this._$("flash-command"));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      result.textContent = "Selected: press Ctrl+C to copy.";
    }
  }
}

if (!customElements.get("microhome-panel")) customElements.define("microhome-panel", MicroHomePanel);
