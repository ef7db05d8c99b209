// MicroHome sidebar panel: node list, live log table, the Nodes page (profiles and bulk
// actions on many nodes), settings and the fleet key.
// A plain ES module web component (no build step). Every value that comes from a node or
// from the user is put into the page with textContent, never as HTML.

const MAX_ROWS = 2000;
const REPLAY = 200;
const PAGE = 5000;
const NODE_REFRESH_MS = 10000;
const TABS = ["logs", "fleet", "settings"];
// The per-node results of bulk actions that mean the node did not do it.
const FAILED_RESULTS = ["failed", "rejected", "rolled_back", "timeout"];
const LOG_LEVELS = [["D", "Debug"], ["I", "Info"], ["W", "Warning"], ["E", "Error"], ["C", "Critical"]];

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
.fleet td { border-bottom: 1px solid var(--divider-color); vertical-align: middle; }
.fleet td.check, .fleet th.check { width: 28px; }
.fleet .sub { color: var(--secondary-text-color); font-size: 12px; }
.state-applied { color: var(--success-color, #43a047); }
.state-pending { color: var(--warning-color, #ffa600); }
.state-rejected { color: var(--error-color, #db4437); font-weight: 500; }
.result-failed, .result-rejected, .result-rolled_back, .result-timeout { color: var(--error-color, #db4437); }
.result-done, .result-added, .result-applied, .result-updated, .result-up_to_date,
.result-pending { color: var(--success-color, #43a047); }
progress { width: 90px; vertical-align: middle; }
.bulk { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; padding: 8px 16px;
  border-top: 1px solid var(--divider-color); background: var(--secondary-background-color); }
#fleet-message { padding: 0 16px 12px; }
.profiles td { border-bottom: 1px solid var(--divider-color); vertical-align: middle; }
.profiles td.actions { white-space: nowrap; }
.overrides button { margin-left: 4px; padding: 0 6px; font-size: 12px; }
#profile-editor { border-top: 1px solid var(--divider-color); margin-top: 12px; }
#edit-title { font-weight: 500; }
[hidden] { display: none !important; }
`;

const TEMPLATE = `
<div class="toolbar">
  <span class="menu"></span>
  <span class="title">MicroHome</span>
  <span class="tabs" role="tablist">
    <button id="tab-logs" role="tab" aria-selected="true">Logs</button>
    <button id="tab-fleet" role="tab" aria-selected="false">Nodes</button>
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
  <section id="view-fleet" hidden>
    <div class="card" aria-label="Nodes and bulk actions">
      <h2>Nodes</h2>
      <div class="filters">
        <select id="fleet-status" aria-label="Status">
          <option value="">All nodes</option>
          <option value="online">Online</option>
          <option value="offline">Offline</option>
          <option value="discovered">Discovered, not added</option>
        </select>
        <select id="fleet-config" aria-label="Configuration">
          <option value="">Any configuration</option>
          <option value="applied">Applied</option>
          <option value="pending">Pending</option>
          <option value="rejected">Rejected</option>
        </select>
        <select id="fleet-profile" aria-label="Profile"></select>
        <input id="fleet-text" type="search" placeholder="Search nodes" aria-label="Search nodes">
      </div>
      <table class="fleet">
        <thead><tr><th class="check"><input type="checkbox" id="fleet-all" aria-label="Select all"></th>
          <th>Node</th><th>Status</th><th>Board</th><th>Firmware</th><th>Configuration</th>
          <th>Profile</th><th>Last seen</th><th>Result</th></tr></thead>
        <tbody id="fleet-rows"></tbody>
      </table>
      <div class="empty" id="fleet-empty">No nodes match.</div>
      <div class="bulk">
        <span id="fleet-selected">0 selected</span>
        <select id="bulk-profile" aria-label="Profile for the selected nodes"></select>
        <button class="action primary" id="bulk-add">Add</button>
        <button class="action" id="bulk-apply">Apply profile</button>
        <button class="action" id="bulk-ota">Update firmware</button>
        <button class="action" id="bulk-reboot">Reboot</button>
        <button class="action" id="bulk-identify">Identify</button>
      </div>
      <div class="message-line" id="fleet-message" role="status"></div>
    </div>
    <div class="card">
      <h2>Profiles</h2>
      <div class="content">
        <p>A profile is a configuration many nodes follow: peripherals, telemetry interval and
          log level. A change of a profile reaches every node that follows it; each node keeps
          its own name and overrides.</p>
        <table class="profiles">
          <thead><tr><th>Profile</th><th>Board</th><th>Peripherals</th><th>Nodes</th><th></th></tr></thead>
          <tbody id="profile-rows"></tbody>
        </table>
        <div class="empty" id="profiles-empty">No profiles yet.</div>
        <form id="profile-editor" hidden>
          <p id="edit-title"></p>
          <div class="form">
            <label for="edit-name">Name</label>
            <input id="edit-name" type="text" maxlength="64" required>
            <label for="edit-interval">Telemetry interval (s)</label>
            <input id="edit-interval" type="number" min="5" max="86400" required>
            <label for="edit-log-level">Log level</label>
            <select id="edit-log-level"></select>
            <label for="edit-source">Peripherals</label>
            <select id="edit-source"></select>
            <span class="hint">Taken from a node, its peripherals become the profile's and it
              follows the profile without overrides.</span>
            <span></span>
            <span>
              <button class="action primary" type="submit" id="edit-save">Save and send to its nodes</button>
              <button class="action" type="button" id="edit-cancel">Cancel</button>
            </span>
          </div>
          <div class="message-line" id="edit-message" role="status"></div>
        </form>
        <form class="filters" id="profile-form">
          <input id="profile-name" type="text" placeholder="New profile name" aria-label="New profile name" maxlength="64" required>
          <select id="profile-source" aria-label="Made of the configuration of"></select>
          <button class="action" type="submit" id="profile-create">Create from node</button>
        </form>
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
    this._profiles = [];
    this._selected = new Set();
    this._results = {};
    this._tab = "logs";
    this._otaUnsubscribe = null;
    this._editing = null;
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
    for (const tab of TABS) this._$(`tab-${tab}`).addEventListener("click", () => this._showTab(tab));
    for (const id of ["fleet-status", "fleet-config", "fleet-profile"]) {
      this._$(id).addEventListener("change", () => this._renderFleet());
    }
    this._$("fleet-text").addEventListener("input", () => this._renderFleet());
    this._$("fleet-all").addEventListener("change", (ev) => this._selectAll(ev.target.checked));
    this._$("bulk-profile").addEventListener("change", () => this._renderSelection());
    this._$("bulk-add").addEventListener("click", () => this._bulkAdd());
    this._$("bulk-apply").addEventListener("click", () => this._bulkApply());
    this._$("bulk-ota").addEventListener("click", () => this._bulkOta());
    this._$("bulk-reboot").addEventListener("click", () => this._bulkCommand("reboot"));
    this._$("bulk-identify").addEventListener("click", () => this._bulkCommand("identify"));
    this._$("profile-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._createProfile();
    });
    this._fillSelect("edit-log-level", LOG_LEVELS);
    this._$("profile-editor").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._saveProfile();
    });
    this._$("edit-cancel").addEventListener("click", () => this._editProfile(null));
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
    this._stopOtaEvents();
  }

  _showTab(tab) {
    this._tab = tab;
    for (const name of TABS) {
      this._$(`tab-${name}`).setAttribute("aria-selected", String(name === tab));
      this._$(`view-${name}`).hidden = name !== tab;
    }
    if (tab === "settings") this._loadSettings();
    if (tab === "fleet") this._refreshNodes();
  }

  // --- nodes ---------------------------------------------------------------------------------

  async _refreshNodes() {
    if (!this._hass) return;
    try {
      const [nodes, profiles] = await Promise.all([
        this._hass.callWS({ type: "microhome/nodes/list" }),
        this._hass.callWS({ type: "microhome/profiles/list" }),
      ]);
      this._nodes = nodes.nodes;
      this._profiles = profiles.profiles;
    } catch (err) {
      return;
    }
    this._renderNodes();
    this._renderFleet();
    this._renderProfiles();
  }

  // --- the Nodes page: every node, filters, bulk actions, profiles ---------------------------

  _key(node) {
    // Configured nodes are acted on by config entry, discovered ones by their discovery flow.
    return node.entry_id || node.flow_id || `log:${node.id}`;
  }

  _status(node) {
    if (!node.configured) return node.flow_id ? "discovered" : "unknown";
    return node.online ? "online" : "offline";
  }

  _shownNodes() {
    const status = this._$("fleet-status").value;
    const config = this._$("fleet-config").value;
    const profile = this._$("fleet-profile").value;
    const text = this._$("fleet-text").value.trim().toLowerCase();
    return this._nodes.filter((node) => {
      if (!node.configured && !node.flow_id) return false; // known only from its logs
      if (status && this._status(node) !== status) return false;
      if (config && node.config_state !== config) return false;
      if (profile === "-" && node.profile) return false;
      if (profile && profile !== "-" && node.profile !== profile) return false;
      const haystack = `${node.name} ${node.id} ${node.board || ""} ${node.profile_name || ""}`;
      return !text || haystack.toLowerCase().includes(text);
    });
  }

  _renderFleet() {
    const shown = this._shownNodes();
    const keys = new Set(this._nodes.map((node) => this._key(node)));
    for (const key of [...this._selected]) if (!keys.has(key)) this._selected.delete(key);
    const rows = shown.map((node) => {
      const key = this._key(node);
      const row = el("tr");
      row.dataset.node = node.id;
      const check = el("input");
      check.type = "checkbox";
      check.checked = this._selected.has(key);
      check.setAttribute("aria-label", `Select ${node.name}`);
      check.addEventListener("change", () => {
        if (check.checked) this._selected.add(key);
        else this._selected.delete(key);
        this._renderSelection();
      });
      const checkCell = el("td", "check");
      checkCell.append(check);
      const name = el("td");
      name.append(el("div", "", node.name));
      if (node.name !== node.id) name.append(el("div", "sub", node.id));
      const state = this._status(node);
      const status = el("td", "status-cell");
      status.append(el("span", `dot ${state}`), document.createTextNode(state));
      const config = el("td", `config state-${node.config_state || "none"}`, node.config_state || "–");
      if (node.config_errors && node.config_errors.length) config.title = node.config_errors.join("; ");
      const profile = el("td", "profile-cell");
      profile.append(el("div", "profile", node.profile_name || (node.configured ? "own" : "–")));
      const overrides = Object.entries(node.overrides || {});
      if (overrides.length) {
        const line = el("div", "sub overrides",
          `Overrides: ${overrides.map(([id, fields]) => `${id} (${Object.keys(fields).join(", ")})`).join(", ")}`);
        line.title = JSON.stringify(node.overrides);
        const reset = el("button", "action", "Reset");
        reset.title = "Follow the profile without overrides";
        reset.addEventListener("click", () => this._resetOverrides(node));
        line.append(reset);
        profile.append(line);
      }
      row.append(
        checkCell,
        name,
        status,
        el("td", "", node.board || "–"),
        el("td", "firmware", node.firmware || "–"),
        config,
        profile,
        el("td", "", formatAgo(node.last_seen)),
        this._resultCell(key),
      );
      return row;
    });
    this._$("fleet-rows").replaceChildren(...rows);
    this._$("fleet-empty").hidden = rows.length > 0;
    const options = [["", "Any profile"], ["-", "Own configuration"]];
    this._fillSelect("fleet-profile", options.concat(this._profiles.map((p) => [p.id, p.name])));
    const bulk = [["", "No profile"]].concat(this._profiles.map((p) => [p.id, p.name]));
    this._fillSelect("bulk-profile", bulk);
    this._renderSelection();
  }

  _resultCell(key) {
    const cell = el("td", "result");
    const result = this._results[key];
    if (!result) return cell;
    if (result.progress !== undefined && result.progress !== null) {
      const bar = el("progress");
      bar.max = 100;
      bar.value = result.progress;
      cell.append(bar, document.createTextNode(` ${result.progress} %`));
      return cell;
    }
    cell.className = `result result-${result.result}`;
    const detail = result.error || result.detail;
    cell.textContent = detail ? `${result.result}: ${detail}` : result.result;
    return cell;
  }

  _fillSelect(id, options) {
    const select = this._$(id);
    const value = select.value;
    select.replaceChildren(
      ...options.map(([optionValue, label]) => {
        const option = el("option", "", label);
        option.value = optionValue;
        return option;
      }),
    );
    select.value = options.some(([optionValue]) => optionValue === value) ? value : options[0][0];
  }

  _selectedNodes() {
    return this._nodes.filter((node) => this._selected.has(this._key(node)));
  }

  _renderSelection() {
    const selected = this._selectedNodes();
    const added = selected.filter((node) => node.configured);
    const discovered = selected.filter((node) => !node.configured && node.flow_id);
    this._$("fleet-selected").textContent = `${selected.length} selected`;
    this._$("bulk-add").disabled = discovered.length === 0;
    this._$("bulk-apply").disabled = added.length === 0 || !this._$("bulk-profile").value;
    for (const id of ["bulk-ota", "bulk-reboot", "bulk-identify"]) this._$(id).disabled = added.length === 0;
    const shown = this._shownNodes();
    this._$("fleet-all").checked = shown.length > 0 && shown.every((node) => this._selected.has(this._key(node)));
  }

  _selectAll(checked) {
    for (const node of this._shownNodes()) {
      if (checked) this._selected.add(this._key(node));
      else this._selected.delete(this._key(node));
    }
    this._renderFleet();
  }

  _fleetMessage(text, kind = "") {
    const line = this._$("fleet-message");
    line.className = `message-line ${kind}`;
    line.textContent = text;
  }

  _showResults(results, what) {
    for (const result of Object.values(results)) {
      if (!result.error && result.errors && result.errors.length) result.error = result.errors.join("; ");
    }
    Object.assign(this._results, results);
    const failed = Object.values(results).filter((r) => FAILED_RESULTS.includes(r.result));
    const total = Object.keys(results).length;
    const nodes = total === 1 ? "node" : "nodes";
    this._fleetMessage(
      failed.length ? `${what}: ${failed.length} of ${total} ${nodes} failed.` : `${what}: ${total} ${nodes} done.`,
      failed.length ? "error" : "ok",
    );
    this._renderFleet();
  }

  async _bulk(what, message) {
    this._fleetMessage(`${what}…`);
    try {
      const result = await this._hass.callWS(message);
      return result.results;
    } catch (err) {
      this._fleetMessage(`${what}: ${err.message || err.code || err}`, "error");
      return null;
    }
  }

  async _bulkAdd() {
    const nodes = this._selectedNodes().filter((node) => !node.configured && node.flow_id);
    const message = { type: "microhome/nodes/add", flow_ids: nodes.map((node) => node.flow_id) };
    const profile = this._$("bulk-profile").value;
    if (profile) message.profile = profile;
    const results = await this._bulk("Adding", message);
    if (!results) return;
    this._showResults(results, "Adding");
    for (const node of nodes) {
      const result = results[node.flow_id];
      this._selected.delete(node.flow_id);
      if (result && result.entry_id) {
        this._results[result.entry_id] = result;
        this._selected.add(result.entry_id);
      }
    }
    await this._refreshNodes();
  }

  async _bulkApply() {
    const nodes = this._selectedNodes().filter((node) => node.configured);
    const results = await this._bulk("Applying the profile", {
      type: "microhome/nodes/apply_profile",
      entry_ids: nodes.map((node) => node.entry_id),
      profile: this._$("bulk-profile").value,
    });
    if (!results) return;
    this._showResults(results, "Applying the profile");
    await this._refreshNodes();
  }

  async _resetOverrides(node) {
    const results = await this._bulk(`Resetting the overrides of ${node.name}`, {
      type: "microhome/nodes/apply_profile",
      entry_ids: [node.entry_id],
      profile: node.profile,
      overrides: { [node.id]: {} },
    });
    if (!results) return;
    this._showResults(results, `Resetting the overrides of ${node.name}`);
    await this._refreshNodes();
  }

  async _bulkCommand(command) {
    const nodes = this._selectedNodes().filter((node) => node.configured);
    const what = command === "reboot" ? "Rebooting" : "Identifying";
    const results = await this._bulk(what, {
      type: "microhome/nodes/command",
      entry_ids: nodes.map((node) => node.entry_id),
      command,
    });
    if (results) this._showResults(results, what);
  }

  async _bulkOta() {
    const nodes = this._selectedNodes().filter((node) => node.configured);
    this._stopOtaEvents();
    const results = {};
    for (const node of nodes) this._results[node.entry_id] = { result: "waiting" };
    this._fleetMessage("Updating firmware…");
    this._renderFleet();
    try {
      this._otaUnsubscribe = await this._hass.connection.subscribeMessage(
        (event) => {
          if (event.done) {
            this._stopOtaEvents();
            this._showResults(results, "Updating firmware");
            this._refreshNodes();
            return;
          }
          if (event.result) {
            const outcome = event.result;
            results[event.entry_id] = {
              result: outcome.result,
              error: outcome.error,
              detail: outcome.version ? `firmware ${outcome.version}` : undefined,
            };
            this._results[event.entry_id] = results[event.entry_id];
          } else {
            this._results[event.entry_id] = { result: event.state, progress: event.progress };
          }
          this._renderFleet();
        },
        { type: "microhome/nodes/ota", entry_ids: nodes.map((node) => node.entry_id) },
      );
    } catch (err) {
      this._fleetMessage(`Updating firmware: ${err.message || err.code || err}`, "error");
    }
  }

  _stopOtaEvents() {
    if (this._otaUnsubscribe) {
      const unsubscribe = this._otaUnsubscribe;
      this._otaUnsubscribe = null;
      Promise.resolve(unsubscribe()).catch(() => {});
    }
  }

  _renderProfiles() {
    const rows = this._profiles.map((profile) => {
      const row = el("tr");
      row.dataset.profile = profile.id;
      const name = el("td");
      name.append(el("div", "", profile.name), el("div", "sub", profile.id));
      const peripherals = profile.sensors.map((p) => p.name || p.id).join(", ") || "–";
      const edit = el("button", "action edit", "Edit");
      edit.addEventListener("click", () => this._editProfile(profile));
      const remove = el("button", "action danger", "Delete");
      remove.addEventListener("click", () => this._deleteProfile(profile));
      const actions = el("td", "actions");
      actions.append(edit, document.createTextNode(" "), remove);
      row.append(name, el("td", "", profile.platform), el("td", "", peripherals),
        el("td", "followers", profile.followers.length), actions);
      return row;
    });
    this._$("profile-rows").replaceChildren(...rows);
    this._$("profiles-empty").hidden = rows.length > 0;
    const sources = this._nodes.filter((node) => node.configured).map((node) => [node.entry_id, node.name]);
    this._fillSelect("profile-source", sources.length ? sources : [["", "No nodes"]]);
    if (this._editing && !this._profiles.some((p) => p.id === this._editing)) this._editProfile(null);
  }

  _editProfile(profile) {
    this._editing = profile ? profile.id : null;
    this._$("profile-editor").hidden = !profile;
    this._$("edit-message").textContent = "";
    if (!profile) return;
    this._$("edit-title").textContent = `Edit the profile ${profile.name} (${profile.platform})`;
    this._$("edit-name").value = profile.name;
    this._$("edit-interval").value = profile.telemetry_interval;
    this._$("edit-log-level").value = profile.log_level;
    const sourceLabel = (node) => {
      if (node.profile !== profile.id) return `From ${node.name} (its own configuration)`;
      return Object.keys(node.overrides || {}).length ? `From ${node.name} (with its overrides)` : `From ${node.name}`;
    };
    const sources = this._nodes
      .filter((node) => node.configured && node.platform === profile.platform)
      .map((node) => [node.entry_id, sourceLabel(node)]);
    this._$("edit-source").value = "";
    this._fillSelect("edit-source", [["", "Keep the profile's peripherals"]].concat(sources));
    this._$("edit-name").focus();
  }

  async _saveProfile() {
    const profile = this._editing;
    const line = this._$("edit-message");
    const message = {
      type: "microhome/profiles/update",
      profile,
      name: this._$("edit-name").value.trim(),
      telemetry_interval: Number(this._$("edit-interval").value),
      log_level: this._$("edit-log-level").value,
    };
    const source = this._$("edit-source").value;
    if (source) message.from_entry_id = source;
    line.className = "message-line";
    line.textContent = "Saving…";
    let result;
    try {
      result = await this._hass.callWS(message);
    } catch (err) {
      line.className = "message-line error";
      line.textContent = `Not saved: ${err.message || err.code || err}`;
      return;
    }
    // The results are by node id; the Nodes page shows them by entry.
    const entries = Object.fromEntries(this._nodes.map((node) => [node.id, this._key(node)]));
    const results = {};
    for (const [nodeId, outcome] of Object.entries(result.results)) results[entries[nodeId] || nodeId] = outcome;
    this._editProfile(null);
    this._showResults(results, `Updating profile ${message.name}`);
    await this._refreshNodes();
  }

  async _createProfile() {
    const name = this._$("profile-name").value.trim();
    const entryId = this._$("profile-source").value;
    if (!name || !entryId) return;
    try {
      const result = await this._hass.callWS({ type: "microhome/profiles/create", name, entry_id: entryId });
      this._fleetMessage(`Profile ${result.profile.name} created.`, "ok");
      this._$("profile-name").value = "";
    } catch (err) {
      this._fleetMessage(`Not created: ${err.message || err.code || err}`, "error");
    }
    await this._refreshNodes();
  }

  async _deleteProfile(profile) {
    try {
      await this._hass.callWS({ type: "microhome/profiles/delete", profile: profile.id });
      this._fleetMessage(`Profile ${profile.name} deleted; its nodes keep their configuration.`, "ok");
    } catch (err) {
      this._fleetMessage(`Not deleted: ${err.message || err.code || err}`, "error");
    }
    await this._refreshNodes();
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
