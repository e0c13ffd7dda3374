// Tiny DOM helpers: build elements without innerHTML, so data from the API is never parsed as HTML.
const SVG_NS = "http://www.w3.org/2000/svg";

function setProps(el, props, isSvg) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") {
      if (isSvg) el.setAttribute("class", v);
      else el.className = v;
    } else if (k === "dataset") {
      Object.assign(el.dataset, v);
    } else if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (!isSvg && (k === "value" || k === "checked" || k === "textContent")) {
      el[k] = v;
    } else if (v === true) {
      el.setAttribute(k, "");
    } else {
      el.setAttribute(k, String(v));
    }
  }
}

function appendAll(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** h("div", {class: "x", onClick: fn}, child, [children], "text") */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props, false);
  appendAll(el, children);
  return el;
}

/** Same for SVG elements. */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setProps(el, props, true);
  appendAll(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  appendAll(el, children);
  return el;
}

let idSeq = 0;
export function uid(prefix = "f") {
  idSeq += 1;
  return `${prefix}-${idSeq}`;
}

/** A labelled form field: returns {wrap, input}. */
export function field(label, input, hint) {
  const id = input.id || uid("in");
  input.id = id;
  let hintEl = null;
  if (hint) {
    hintEl = h("small", { class: "hint", id: id + "-hint" }, hint);
    input.setAttribute("aria-describedby", hintEl.id);
  }
  const wrap = h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl);
  return { wrap, input };
}

/** A <select> from [{value, label}] options. */
export function select(options, props = {}) {
  const el = h("select", props);
  for (const o of options) {
    const opt = h("option", { value: o.value }, o.label);
    if (o.value === props.value) opt.selected = true;
    el.append(opt);
  }
  if (props.value !== undefined) el.value = props.value;
  return el;
}

/** An inline SVG icon from a small set (stroke icons, 20×20). */
const ICONS = {
  overview: "M3 13h4v5H3zM8.5 8h4v10h-4zM14 3h4v15h-4z",
  costs: "M10 2v16M14 5.5c0-1.4-1.8-2.5-4-2.5s-4 1.1-4 2.5S7.8 8 10 8s4 1.1 4 2.5S12.2 13 10 13s-4-1.1-4-2.5M6 14.5c0 1.4 1.8 2.5 4 2.5s4-1.1 4-2.5",
  warnings: "M10 3 2 17h16L10 3zM10 8v4M10 14.5v.5",
  settings: "M10 7a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM10 1.5v2.5M10 16v2.5M1.5 10H4M16 10h2.5M4 4l1.8 1.8M14.2 14.2 16 16M4 16l1.8-1.8M14.2 5.8 16 4",
  copy: "M7 7h10v10H7zM3 13V3h10",
  signout: "M8 3H3v14h5M13 6l4 4-4 4M7 10h10",
  refresh: "M16 4v4h-4M4 16v-4h4M15.5 8A6 6 0 0 0 4.6 6.5M4.5 12a6 6 0 0 0 10.9 1.5",
  check: "M4 10.5 8 14.5 16 5.5",
  key: "M12.5 3a4.5 4.5 0 1 0 0 9 4.5 4.5 0 0 0 0-9zM9.3 10.7 3 17h3l1-1h2v-2h2",
  download: "M10 3v10M6 9l4 4 4-4M3 17h14",
  budgets: "M3 5h14v11H3zM3 8h14M13 12h2",
  alerts: "M10 2.5a5 5 0 0 0-5 5V12l-1.5 2.5h13L15 12V7.5a5 5 0 0 0-5-5zM8 16.5a2 2 0 0 0 4 0",
};

export function icon(name, cls = "icon") {
  return s("svg", { class: cls, viewBox: "0 0 20 20", width: 18, height: 18, "aria-hidden": "true", focusable: "false" },
    s("path", { d: ICONS[name] || "", fill: "none", stroke: "currentColor", "stroke-width": 1.6, "stroke-linecap": "round", "stroke-linejoin": "round" }));
}
