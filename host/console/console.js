// The Plaza console: a page over the public API and nothing else. Every
// action is a call a client could make; the API decides who may do what
// (the console only leaves out buttons a caller cannot use). Signed in with
// the host's cookie mode: HttpOnly `__Host-` cookies, and a CSRF token the
// console repeats in `X-CSRF-Token` on every unsafe request. No inline
// script or style: the page's CSP allows only this origin's files.

import { STRINGS } from "./strings.js";

// ----- language -----

let lang = localStorage.getItem("plaza.lang") || (navigator.language || "en").slice(0, 2);
if (!STRINGS[lang]) lang = "en";

/** The text of `key` in the current language, with `{name}`s filled in. */
function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

// ----- DOM -----

/** An element with attributes and children; text is never parsed as HTML. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const $ = (id) => document.getElementById(id);

function announce(message) {
  $("status").textContent = message;
}

function showError(problem) {
  const box = $("alert");
  box.replaceChildren(el("strong", {}, problem.title || t("error.title")), problem.detail ? el("span", {}, problem.detail) : null);
  box.hidden = false;
  box.focus?.();
}

function clearMessages() {
  $("alert").hidden = true;
  $("alert").replaceChildren();
  announce("");
}

/** Shows `view` (a heading first) in the main region and moves focus there. */
function show(...nodes) {
  const main = $("main");
  main.replaceChildren(...nodes);
  main.focus();
  const h1 = main.querySelector("h1");
  document.title = h1 ? `${h1.textContent} · ${t("app.title")}` : t("app.title");
}

function table(headers, rows) {
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c))))),
  );
}

// ----- the API -----

class Problem extends Error {
  constructor(status, body) {
    super(body.detail || body.title || String(status));
    this.status = status;
    this.title = body.title || t("error.title");
    this.detail = body.detail || "";
  }
}

async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const csrf = sessionStorage.getItem("plaza.csrf");
  if (method !== "GET" && csrf) headers["x-csrf-token"] = csrf;
  let resp;
  try {
    resp = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new Problem(0, { title: t("error.title"), detail: t("error.network") });
  }
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (!resp.ok) throw new Problem(resp.status, data || {});
  return data;
}

/** Runs an action: its errors are shown in words, its success announced. */
async function act(work, done) {
  clearMessages();
  try {
    const result = await work();
    if (done) announce(typeof done === "function" ? done(result) : done);
    return result;
  } catch (e) {
    if (e instanceof Problem && e.status === 401) return go("#/signin");
    showError(e instanceof Problem ? e : { title: t("error.title"), detail: String(e) });
    return undefined;
  }
}

// ----- dialogs -----

/** A modal dialog; resolves `true` when confirmed. `typed` asks to type it first. */
function confirmDialog({ title, body = [], confirm, danger = false, typed = null }) {
  const dialog = $("dialog");
  return new Promise((resolve) => {
    const ok = el("button", { type: "submit", class: danger ? "danger" : "", disabled: typed != null }, confirm);
    const field = typed == null ? null : el("input", { id: "dialog-typed", autocomplete: "off", spellcheck: "false" });
    if (field) field.addEventListener("input", () => { ok.disabled = field.value !== typed; });
    const cancel = el("button", { type: "button", class: "secondary", onclick: () => dialog.close("cancel") }, t("action.cancel"));
    const form = el(
      "form",
      { method: "dialog" },
      el("h2", { id: "dialog-title" }, title),
      ...body,
      field ? el("label", { for: "dialog-typed" }, t("purge.type", { name: typed }), field) : null,
      el("p", { class: "actions" }, ok, cancel),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (typed == null || field.value === typed) dialog.close("ok");
    });
    dialog.replaceChildren(form);
    dialog.onclose = () => resolve(dialog.returnValue === "ok");
    dialog.returnValue = "";
    dialog.showModal();
    (field || ok).focus();
  });
}

// ----- session -----

let me = null;

async function loadMe() {
  try {
    me = await api("GET", "/api/v1/auth/me");
  } catch {
    me = null;
  }
  renderAccount();
  return me;
}

function renderAccount() {
  const account = $("account");
  if (!me) return account.replaceChildren();
  const out = el("button", { type: "button", class: "secondary", onclick: signOut }, t("signout"));
  account.replaceChildren(el("span", {}, me.display_name || me.email), out);
}

async function signOut() {
  await act(() => api("POST", "/api/v1/auth/logout", {}));
  sessionStorage.removeItem("plaza.csrf");
  me = null;
  renderAccount();
  go("#/signin");
}

function signinView() {
  const email = el("input", { id: "email", type: "email", autocomplete: "username", required: true });
  const password = el("input", { id: "password", type: "password", autocomplete: "current-password", required: true });
  const code = el("input", { id: "code", inputmode: "numeric", autocomplete: "one-time-code" });
  const codeLabel = el("label", { for: "code", hidden: true }, t("signin.code"), code);
  let mfaToken = null;
  const form = el(
    "form",
    { class: "stack" },
    el("label", { for: "email" }, t("signin.email"), email),
    el("label", { for: "password" }, t("signin.password"), password),
    codeLabel,
    el("p", {}, el("button", { type: "submit" }, t("signin.submit"))),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const session = await act(() =>
      mfaToken
        ? api("POST", "/api/v1/auth/login/mfa", { mfa_token: mfaToken, code: code.value, cookie: true })
        : api("POST", "/api/v1/auth/login", { email: email.value, password: password.value, cookie: true }),
    );
    if (!session) return;
    if (session.mfa_token) {
      mfaToken = session.mfa_token;
      codeLabel.hidden = false;
      code.focus();
      return;
    }
    sessionStorage.setItem("plaza.csrf", session.csrf_token);
    await loadMe();
    go("#/");
  });
  renderSections(null);
  show(el("h1", {}, t("signin.title")), form);
}

// ----- navigation -----

function renderSections(tenant) {
  const nav = $("sections");
  const here = location.hash;
  const link = (href, label) => el("li", {}, el("a", { href, "aria-current": here === href ? "page" : false }, label));
  const items = [];
  if (tenant) {
    items.push(
      link(`#/t/${tenant}/modules`, t("nav.modules")),
      link(`#/t/${tenant}/members`, t("nav.members")),
      link(`#/t/${tenant}/keys`, t("nav.keys")),
      link(`#/t/${tenant}/events`, t("nav.events")),
      link(`#/t/${tenant}/jobs`, t("nav.jobs")),
      link(`#/t/${tenant}/usage`, t("nav.usage")),
      link(`#/t/${tenant}/audit`, t("nav.audit")),
      el("li", {}, el("a", { href: `/t/${tenant}/docs` }, t("nav.docs"))),
    );
  }
  if (me?.operator) items.push(link("#/operator/tenants", t("nav.tenants")), link("#/operator/registry", t("nav.registry")));
  nav.replaceChildren(items.length ? el("ul", {}, items) : "");
}

function homeView() {
  renderSections(null);
  const list = (me.memberships || []).map((m) =>
    el("li", {}, el("a", { href: `#/t/${m.tenant}/modules` }, m.tenant), " ", el("span", { class: "muted" }, t("home.roles", { roles: m.roles.join(", ") }))),
  );
  show(
    el("h1", {}, t("home.title")),
    list.length ? el("ul", {}, list) : el("p", {}, t("home.none")),
    me.operator ? el("p", {}, el("span", { class: "badge" }, t("home.operator"))) : null,
  );
}

// ----- a tenant's modules -----

async function modulesView(tenant) {
  renderSections(tenant);
  const [installed, catalogue] = await Promise.all([
    api("GET", `/t/${tenant}/modules`),
    api("GET", "/api/v1/registry/modules"),
  ]);
  const latest = Object.fromEntries(catalogue.map((m) => [m.name, m.latest]));
  const rows = installed.map((m) => {
    const actions = [];
    if (m.status === "enabled") {
      actions.push(el("button", { type: "button", class: "secondary", onclick: () => disableModule(tenant, m.module) }, t("action.disable")));
    } else {
      actions.push(el("button", { type: "button", onclick: () => enableModule(tenant, m.module, m.version) }, t("action.enable")));
    }
    const newest = latest[m.module];
    if (newest && newest !== m.version && m.status === "enabled") {
      actions.push(el("button", { type: "button", onclick: () => upgradeModule(tenant, m.module, newest) }, t("action.upgrade", { version: newest })));
    }
    if (m.previous_version && m.status === "enabled") {
      actions.push(el("button", { type: "button", class: "secondary", onclick: () => rollbackModule(tenant, m.module, m.previous_version) }, t("action.rollback", { version: m.previous_version })));
    }
    actions.push(el("a", { href: `#/t/${tenant}/modules/${m.module}/config`, class: "button-link" }, t("action.configure")));
    actions.push(el("button", { type: "button", class: "danger", onclick: () => purgeModule(tenant, m.module) }, t("action.purge")));
    return [m.module, m.version, t(`state.${m.status}`), el("div", { class: "actions" }, actions)];
  });
  const names = new Set(installed.map((m) => m.module));
  const available = catalogue.filter((m) => !names.has(m.name) && m.latest);
  const offer = available.map((m) => [
    m.name,
    m.description,
    m.latest,
    el("button", { type: "button", "aria-label": t("action.enable_named", { name: m.name }), onclick: () => enableModule(tenant, m.name, m.latest) }, t("action.enable")),
  ]);
  show(
    el("h1", {}, t("modules.title", { tenant })),
    el("h2", {}, t("modules.installed")),
    rows.length ? table([t("col.name"), t("col.version"), t("col.state"), t("col.actions")], rows) : el("p", {}, t("modules.none")),
    el("h2", {}, t("modules.catalogue")),
    offer.length ? table([t("col.name"), t("col.description"), t("col.latest"), t("col.actions")], offer) : el("p", {}, t("modules.available")),
  );
}

async function enableModule(tenant, name, version) {
  const info = await act(() => api("GET", `/api/v1/registry/modules/${name}/versions/${version}`));
  if (!info) return;
  const manifest = info.manifest || {};
  const caps = manifest.capabilities || [];
  const deps = manifest.dependencies || [];
  const body = [
    el("p", {}, info.description),
    el("p", {}, caps.length ? t("enable.capabilities") : t("enable.no_capabilities")),
    caps.length ? el("ul", { id: "capabilities" }, caps.map((c) => el("li", {}, c))) : null,
    deps.length ? el("p", {}, t("enable.dependencies")) : null,
    deps.length ? el("ul", {}, deps.map((d) => el("li", {}, `${d.name} ${d.version_req}`))) : null,
    (manifest.roles || []).length ? el("p", {}, t("enable.roles", { roles: manifest.roles.join(", ") })) : null,
    el("p", { class: "muted" }, info.publisher ? t("enable.publisher", { publisher: info.publisher }) : t("enable.unsigned")),
    info.publisher ? el("p", {}, el("span", { class: "badge" }, info.publisher_trusted ? t("enable.trusted") : t("enable.untrusted"))) : null,
  ];
  if (!(await confirmDialog({ title: t("enable.title", { name, version }), body, confirm: t("action.enable") }))) return;
  await act(() => api("POST", `/t/${tenant}/modules`, { name, version: `=${version}` }), t("enable.done", { name }));
  await refresh();
}

async function disableModule(tenant, name) {
  const ok = await confirmDialog({ title: t("disable.title", { name }), body: [el("p", {}, t("disable.body"))], confirm: t("action.disable") });
  if (!ok) return;
  await act(() => api("POST", `/t/${tenant}/modules/${name}/disable`, {}), t("disable.done", { name }));
  await refresh();
}

/** The migrations `to` has that `from` had not: what an upgrade runs. */
function pendingMigrations(from, to) {
  const done = Math.max(0, ...((from.manifest?.migrations || []).map((m) => m.version)));
  return (to.manifest?.migrations || []).filter((m) => m.version > done);
}

async function upgradeModule(tenant, name, version) {
  const install = await act(() => api("GET", `/t/${tenant}/modules/${name}`));
  if (!install) return;
  const [from, to] = await Promise.all([
    api("GET", `/api/v1/registry/modules/${name}/versions/${install.version}`),
    api("GET", `/api/v1/registry/modules/${name}/versions/${version}`),
  ]);
  const pending = pendingMigrations(from, to);
  const body = [
    el("p", {}, t("upgrade.body")),
    el("p", {}, pending.length ? t("upgrade.migrations") : t("upgrade.no_migrations")),
    pending.length ? el("ul", { id: "migrations" }, pending.map((m) => el("li", {}, `${m.version}. ${m.name}`))) : null,
  ];
  const ok = await confirmDialog({ title: t("upgrade.title", { name, version }), body, confirm: t("action.upgrade", { version }) });
  if (!ok) return;
  announce(t("upgrade.working", { name }));
  await act(() => api("POST", `/t/${tenant}/modules/${name}/upgrade`, { version: `=${version}` }), t("upgrade.done", { name, version }));
  await refresh();
}

async function rollbackModule(tenant, name, version) {
  await act(() => api("POST", `/t/${tenant}/modules/${name}/rollback`, {}), t("rollback.done", { name, version }));
  await refresh();
}

async function purgeModule(tenant, name) {
  const ok = await confirmDialog({ title: t("purge.title", { name }), body: [el("p", {}, t("purge.body"))], confirm: t("action.purge"), danger: true, typed: name });
  if (!ok) return;
  await act(() => api("POST", `/t/${tenant}/modules/${name}/purge`, { confirm: name }), t("purge.done", { name }));
  await refresh();
}

// ----- a module's settings -----

/** A field for one property of the module's config schema. */
function schemaField(key, property, current) {
  const id = `setting-${key}`;
  const types = [].concat(property.type || "string");
  let input;
  if (types.includes("boolean")) {
    input = el("input", { id, type: "checkbox", checked: current === true });
  } else if (types.includes("integer") || types.includes("number")) {
    input = el("input", { id, type: "number", step: types.includes("integer") ? "1" : "any", value: current ?? "" });
  } else if (Array.isArray(property.enum)) {
    input = el("select", { id }, el("option", { value: "" }, ""), property.enum.map((v) => el("option", { value: v, selected: v === current }, v)));
  } else {
    input = el("input", { id, value: typeof current === "string" ? current : current == null ? "" : JSON.stringify(current) });
  }
  const read = () => {
    if (input.type === "checkbox") return input.checked;
    if (input.type === "number") return input.value === "" ? null : Number(input.value);
    return input.value;
  };
  return { key, id, input, read, help: property.description };
}

async function configView(tenant, name) {
  renderSections(tenant);
  const [install, settings] = await Promise.all([
    api("GET", `/t/${tenant}/modules/${name}`),
    api("GET", `/t/${tenant}/modules/${name}/config`),
  ]);
  const version = await api("GET", `/api/v1/registry/modules/${name}/versions/${install.version}`);
  const schema = version.manifest?.config_schema || {};
  const properties = schema.properties || {};
  const values = Object.fromEntries(settings.filter((x) => !x.secret).map((x) => [x.key, x.value]));
  const fields = Object.entries(properties).map(([key, property]) => schemaField(key, property, values[key]));
  const form = el(
    "form",
    { class: "stack" },
    fields.map((f) => el("label", { for: f.id }, f.key, f.input, f.help ? el("span", { class: "muted" }, f.help) : null)),
    el("p", {}, el("button", { type: "submit" }, t("action.save"))),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const f of fields) {
      const value = f.read();
      if (value === null || value === "") continue;
      const saved = await act(() => api("PUT", `/t/${tenant}/modules/${name}/config/${f.key}`, { value, secret: false }));
      if (saved === undefined) return;
    }
    announce(t("config.saved", { name }));
  });
  const secrets = settings.filter((x) => x.secret).map((x) => el("li", {}, x.key, " ", el("span", { class: "muted" }, t("config.secret_set"))));
  const secretKey = el("input", { id: "secret-key", required: true, autocomplete: "off" });
  const secretValue = el("input", { id: "secret-value", type: "password", required: true, autocomplete: "new-password" });
  const secretForm = el(
    "form",
    { class: "inline" },
    el("label", { for: "secret-key" }, t("config.secret_name"), secretKey),
    el("label", { for: "secret-value" }, t("config.secret_value"), secretValue),
    el("button", { type: "submit" }, t("action.save")),
  );
  secretForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = secretKey.value;
    const saved = await act(() => api("PUT", `/t/${tenant}/modules/${name}/config/${key}`, { value: secretValue.value, secret: true }));
    if (saved === undefined) return;
    await configView(tenant, name);
    announce(t("config.secret_saved", { key }));
  });
  show(
    el("h1", {}, t("config.title", { name, tenant })),
    fields.length ? form : el("p", {}, t("config.no_schema")),
    el("h2", {}, t("config.secrets")),
    el("p", {}, t("config.secrets_body")),
    secrets.length ? el("ul", {}, secrets) : null,
    secretForm,
  );
}

// ----- members and keys -----

const splitRoles = (text) => text.split(",").map((r) => r.trim()).filter(Boolean);

async function membersView(tenant) {
  renderSections(tenant);
  const members = await api("GET", `/t/${tenant}/members`);
  const rows = members.map((m) => {
    const id = `roles-${m.user_id}`;
    const input = el("input", { id, value: m.roles.join(", "), "aria-label": `${t("col.roles")}: ${m.email}` });
    const save = el("button", { type: "button", class: "secondary", onclick: async () => {
      await act(() => api("PUT", `/t/${tenant}/members/${m.user_id}`, { roles: splitRoles(input.value) }), t("members.saved", { email: m.email }));
    } }, t("action.save"));
    return [m.email, el("div", { class: "actions" }, input, save)];
  });
  const email = el("input", { id: "invite-email", type: "email", required: true });
  const roles = el("input", { id: "invite-roles", value: "member" });
  const result = el("div", {});
  const form = el(
    "form",
    { class: "inline" },
    el("label", { for: "invite-email" }, t("col.email"), email),
    el("label", { for: "invite-roles" }, t("members.roles_hint"), roles),
    el("button", { type: "submit" }, t("action.invite")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const inv = await act(() => api("POST", `/t/${tenant}/invitations`, { email: email.value, roles: splitRoles(roles.value) }));
    if (!inv) return;
    if (inv.accept_token) {
      result.replaceChildren(el("p", {}, t("members.invited_token", { email: email.value })), el("p", { class: "secret" }, inv.accept_token));
      announce(t("members.invited_token", { email: email.value }));
    } else {
      announce(t("members.invited", { email: email.value }));
    }
  });
  show(
    el("h1", {}, t("members.title", { tenant })),
    table([t("col.email"), t("col.roles")], rows),
    el("h2", {}, t("members.invite")),
    form,
    result,
  );
}

async function keysView(tenant) {
  renderSections(tenant);
  const keys = await api("GET", `/t/${tenant}/api-keys`);
  const rows = keys.map((k) => [
    k.name,
    k.prefix,
    k.roles.join(", "),
    k.revoked_at ? t("state.revoked") : el("button", { type: "button", class: "danger", "aria-label": `${t("action.revoke")} ${k.name}`, onclick: async () => {
      const ok = await confirmDialog({ title: t("keys.revoke_title", { name: k.name }), body: [el("p", {}, t("keys.revoke_body"))], confirm: t("action.revoke"), danger: true });
      if (!ok) return;
      await act(() => api("DELETE", `/t/${tenant}/api-keys/${k.id}`), t("keys.revoked", { name: k.name }));
      await refresh();
    } }, t("action.revoke")),
  ]);
  const name = el("input", { id: "key-name", required: true });
  const roles = el("input", { id: "key-roles", value: "member" });
  const secret = el("div", { id: "new-key" });
  const form = el(
    "form",
    { class: "inline" },
    el("label", { for: "key-name" }, t("keys.name"), name),
    el("label", { for: "key-roles" }, t("members.roles_hint"), roles),
    el("button", { type: "submit" }, t("action.create")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const created = await act(() => api("POST", `/t/${tenant}/api-keys`, { name: name.value, roles: splitRoles(roles.value) }));
    if (!created) return;
    await keysView(tenant);
    const box = $("new-key");
    box.replaceChildren(el("p", {}, t("keys.created", { name: created.key.name })), el("p", { class: "secret" }, created.secret));
    announce(t("keys.created", { name: created.key.name }));
  });
  show(
    el("h1", {}, t("keys.title", { tenant })),
    rows.length ? table([t("keys.name"), t("col.prefix"), t("col.roles"), t("col.actions")], rows) : el("p", {}, t("keys.none")),
    el("h2", {}, t("keys.create")),
    form,
    secret,
  );
}

// ----- events -----

async function eventsView(tenant) {
  renderSections(tenant);
  const dead = await api("GET", `/t/${tenant}/events?status=dead`);
  const rows = dead.map((d) => [
    d.event_type,
    d.module,
    d.last_error || "",
    el("button", { type: "button", "aria-label": `${t("action.retry")} ${d.event_type} → ${d.module}`, onclick: async () => {
      await act(() => api("POST", `/t/${tenant}/events/${d.event_id}/retry`, { module: d.module }), t("events.retried", { id: d.event_id }));
      await refresh();
    } }, t("action.retry")),
  ]);
  show(
    el("h1", {}, t("events.title", { tenant })),
    el("p", {}, t("events.body")),
    rows.length ? table([t("col.event"), t("col.module"), t("col.error"), t("col.actions")], rows) : el("p", {}, t("events.none")),
  );
}

// ----- jobs, usage, audit -----

async function jobsView(tenant) {
  renderSections(tenant);
  const [jobs, runs] = await Promise.all([api("GET", `/t/${tenant}/jobs`), api("GET", `/t/${tenant}/jobs/runs`)]);
  const rows = jobs.map((j) => [
    j.module,
    j.job,
    `${j.schedule} (${j.timezone})`,
    j.next_fire || "",
    el("button", { type: "button", class: "secondary", "aria-label": `${t("action.run")} ${j.module} ${j.job}`, onclick: async () => {
      await act(() => api("POST", `/t/${tenant}/jobs/${j.module}/${j.job}/run`, {}), t("jobs.started", { job: j.job }));
      await refresh();
    } }, t("action.run")),
  ]);
  const runRows = runs.map((r) => [r.module, r.job, r.trigger, t(`run.${r.status}`), r.started_at, r.error || ""]);
  show(
    el("h1", {}, t("jobs.title", { tenant })),
    rows.length ? table([t("col.module"), t("col.job"), t("col.schedule"), t("col.next"), t("col.actions")], rows) : el("p", {}, t("jobs.none")),
    el("h2", {}, t("jobs.runs")),
    runRows.length ? table([t("col.module"), t("col.job"), t("col.trigger"), t("col.state"), t("col.started"), t("col.error")], runRows) : el("p", {}, t("jobs.no_runs")),
  );
}

const bytes = (n) => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
};

function meter(used, limit, label) {
  return el("meter", { min: 0, max: limit, value: Math.min(used, limit), "aria-label": label, title: label });
}

async function usageView(tenant) {
  renderSections(tenant);
  const u = await api("GET", `/t/${tenant}/usage`);
  const q = u.quotas;
  const storageLabel = t("usage.of", { used: bytes(u.storage_bytes), limit: bytes(q.storage_bytes) });
  const rows = u.modules.map((m) => [
    m.module,
    t("usage.of", { used: bytes(m.blob_bytes), limit: bytes(q.module_blob_bytes) }),
    t("usage.of", { used: m.kv_entries, limit: q.module_kv_entries }),
    t("usage.of", { used: bytes(m.sql_bytes), limit: bytes(q.module_sql_bytes) }),
  ]);
  show(
    el("h1", {}, t("usage.title", { tenant })),
    el("p", {}, t("usage.storage"), " ", storageLabel, " ", meter(u.storage_bytes, q.storage_bytes, storageLabel)),
    table([t("col.module"), t("col.blobs"), t("col.kv"), t("col.sql")], rows),
  );
}

async function auditView(tenant) {
  renderSections(tenant);
  const entries = await api("GET", `/t/${tenant}/audit?limit=200`);
  const rows = entries.map((e) => [e.at, e.actor, e.action, JSON.stringify(e.detail)]);
  show(
    el("h1", {}, t("audit.title", { tenant })),
    rows.length ? table([t("col.when"), t("col.who"), t("col.action"), t("col.detail")], rows) : el("p", {}, t("audit.none")),
  );
}

// ----- operator -----

async function tenantsView() {
  renderSections(null);
  const page = await api("GET", "/api/v1/tenants?limit=500");
  const rows = page.items.map((tn) => {
    const toggle = tn.status === "suspended"
      ? el("button", { type: "button", class: "secondary", onclick: async () => { await act(() => api("POST", `/api/v1/tenants/${tn.id}/resume`, {}), t("tenants.resumed", { id: tn.id })); await refresh(); } }, t("action.resume"))
      : el("button", { type: "button", class: "secondary", onclick: async () => { await act(() => api("POST", `/api/v1/tenants/${tn.id}/suspend`, {}), t("tenants.suspended", { id: tn.id })); await refresh(); } }, t("action.suspend"));
    const del = el("button", { type: "button", class: "danger", onclick: async () => {
      const ok = await confirmDialog({ title: t("tenants.delete_title", { id: tn.id }), body: [el("p", {}, t("tenants.delete_body"))], confirm: t("action.delete"), danger: true, typed: tn.id });
      if (!ok) return;
      await act(() => api("DELETE", `/api/v1/tenants/${tn.id}`), t("tenants.deleted", { id: tn.id }));
      await refresh();
    } }, t("action.delete"));
    const quotas = el("a", { href: `#/operator/tenants/${tn.id}/quotas`, class: "button-link" }, t("action.quotas"));
    return [el("a", { href: `#/t/${tn.id}/modules` }, tn.id), tn.name, t(`state.${tn.status}`), el("div", { class: "actions" }, quotas, toggle, del)];
  });
  const id = el("input", { id: "tenant-id", required: true, pattern: "[a-z0-9][a-z0-9-]*" });
  const name = el("input", { id: "tenant-name", required: true });
  const form = el(
    "form",
    { class: "inline" },
    el("label", { for: "tenant-id" }, t("tenants.id"), id),
    el("label", { for: "tenant-name" }, t("tenants.name"), name),
    el("button", { type: "submit" }, t("action.create")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const created = await act(() => api("POST", "/api/v1/tenants", { id: id.value, name: name.value }));
    if (!created) return;
    await tenantsView();
    announce(t("tenants.created", { id: created.id }));
  });
  const ready = await fetch("/ready").then((r) => r.json()).catch(() => null);
  const health = ready?.checks
    ? el("ul", {}, ready.checks.map((ch) => el("li", {}, `${ch.name}: `, ch.ok ? t("health.ok") : `${t("health.failed")} ${ch.detail || ""}`)))
    : el("p", {}, t("health.unknown"));
  show(
    el("h1", {}, t("tenants.title")),
    el("h2", {}, t("health.title")),
    health,
    el("p", {}, el("a", { href: "/metrics" }, t("health.metrics"))),
    el("h2", {}, t("tenants.list")),
    table([t("col.id"), t("tenants.name"), t("col.state"), t("col.actions")], rows),
    el("h2", {}, t("tenants.create")),
    form,
  );
}

async function quotasView(tenant) {
  renderSections(null);
  const q = await api("GET", `/api/v1/tenants/${tenant}/quotas`);
  const names = ["storage_bytes", "module_blob_bytes", "module_kv_entries", "module_sql_bytes"];
  const inputs = names.map((n) => el("input", { id: `quota-${n}`, type: "number", min: 0, step: 1, value: q.overrides[n] ?? "", placeholder: String(q.effective[n]) }));
  const form = el(
    "form",
    { class: "stack" },
    names.map((n, i) => el("label", { for: `quota-${n}` }, t(`quota.${n}`), inputs[i], el("span", { class: "muted" }, t("quota.effective", { value: q.effective[n] })))),
    el("p", {}, el("button", { type: "submit" }, t("action.save"))),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = Object.fromEntries(names.map((n, i) => [n, inputs[i].value === "" ? null : Number(inputs[i].value)]));
    const saved = await act(() => api("PUT", `/api/v1/tenants/${tenant}/quotas`, body));
    if (!saved) return;
    await quotasView(tenant);
    announce(t("quota.saved", { tenant }));
  });
  show(el("h1", {}, t("quota.title", { tenant })), el("p", {}, t("quota.body")), form);
}

async function registryView() {
  renderSections(null);
  const modules = await api("GET", "/api/v1/registry/modules");
  const sections = [];
  for (const m of modules) {
    const versions = await api("GET", `/api/v1/registry/modules/${m.name}/versions`);
    const rows = versions.map((v) => [
      v.version,
      v.yanked ? t("action.yank") : "",
      el("button", { type: "button", class: v.yanked ? "secondary" : "danger", "aria-label": `${v.yanked ? t("action.unyank") : t("action.yank")} ${m.name} ${v.version}`, onclick: async () => {
        const yanked = !v.yanked;
        await act(() => api("PUT", `/api/v1/registry/modules/${m.name}/versions/${v.version}/yank`, { yanked }), t(yanked ? "registry.yanked" : "registry.unyanked", { name: m.name, version: v.version }));
        await refresh();
      } }, v.yanked ? t("action.unyank") : t("action.yank")),
    ]);
    sections.push(el("h2", {}, t("registry.versions", { name: m.name })), el("p", {}, m.description), table([t("col.version"), t("col.yanked"), t("col.actions")], rows));
  }
  const file = el("input", { id: "package-file", type: "file", accept: ".wasm,application/wasm", required: true });
  const signature = el("textarea", { id: "package-signature", rows: 3 });
  const form = el(
    "form",
    { class: "stack" },
    el("label", { for: "package-file" }, t("registry.package"), file),
    el("label", { for: "package-signature" }, t("registry.signature"), signature),
    el("p", {}, el("button", { type: "submit" }, t("action.publish"))),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData();
    data.append("package", file.files[0], file.files[0].name);
    if (signature.value.trim()) data.append("signature", signature.value.trim());
    const published = await act(async () => {
      const resp = await fetch("/api/v1/registry/modules", {
        method: "POST", credentials: "same-origin", body: data,
        headers: { "x-csrf-token": sessionStorage.getItem("plaza.csrf") || "" },
      });
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) throw new Problem(resp.status, body);
      return body;
    });
    if (!published) return;
    await registryView();
    announce(t("registry.published", { name: published.name, version: published.version }));
  });
  show(el("h1", {}, t("registry.title")), el("h2", {}, t("registry.publish")), form, ...sections);
}

// ----- routing -----

const routes = [
  [/^#\/signin$/, () => signinView()],
  [/^#\/?$/, () => homeView()],
  [/^#\/t\/([a-z0-9-]+)\/modules$/, (m) => modulesView(m[1])],
  [/^#\/t\/([a-z0-9-]+)\/modules\/([a-z0-9-]+)\/config$/, (m) => configView(m[1], m[2])],
  [/^#\/t\/([a-z0-9-]+)\/members$/, (m) => membersView(m[1])],
  [/^#\/t\/([a-z0-9-]+)\/keys$/, (m) => keysView(m[1])],
  [/^#\/t\/([a-z0-9-]+)\/events$/, (m) => eventsView(m[1])],
  [/^#\/t\/([a-z0-9-]+)\/jobs$/, (m) => jobsView(m[1])],
  [/^#\/t\/([a-z0-9-]+)\/usage$/, (m) => usageView(m[1])],
  [/^#\/t\/([a-z0-9-]+)\/audit$/, (m) => auditView(m[1])],
  [/^#\/operator\/tenants$/, () => tenantsView()],
  [/^#\/operator\/tenants\/([a-z0-9-]+)\/quotas$/, (m) => quotasView(m[1])],
  [/^#\/operator\/registry$/, () => registryView()],
];

function go(hash) {
  if (location.hash === hash) return refresh();
  location.hash = hash;
}

/** Renders the page of the current address. */
async function refresh() {
  const hash = location.hash || "#/";
  if (!me && hash !== "#/signin") {
    await loadMe();
    if (!me) return go("#/signin");
  }
  for (const [pattern, view] of routes) {
    const match = hash.match(pattern);
    if (!match) continue;
    try {
      await view(match);
    } catch (e) {
      if (e instanceof Problem && e.status === 401) return go("#/signin");
      show(el("h1", {}, t("error.title")));
      showError(e instanceof Problem ? e : { title: t("error.title"), detail: String(e) });
    }
    return;
  }
  show(el("h1", {}, t("notfound")));
}

function applyLanguage() {
  document.documentElement.lang = lang;
  $("lang").value = lang;
  $("lang-label").textContent = t("language");
  document.querySelector(".skip").textContent = t("skip");
  renderAccount();
}

$("lang").addEventListener("change", async (event) => {
  lang = event.target.value;
  localStorage.setItem("plaza.lang", lang);
  applyLanguage();
  await refresh();
});
window.addEventListener("hashchange", () => { clearMessages(); refresh(); });
applyLanguage();
if (!sessionStorage.getItem("plaza.csrf")) {
  // A session from an earlier tab: the CSRF cookie's value, read through the API.
  api("GET", "/api/v1/auth/csrf").then((r) => sessionStorage.setItem("plaza.csrf", r.csrf_token)).catch(() => {}).finally(refresh);
} else {
  refresh();
}
