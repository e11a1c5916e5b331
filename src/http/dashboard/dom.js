// DOM helpers. Data only ever reaches the page as text nodes or attribute values, never parsed as markup.

/**
 * Creates an element. `props`: `class`, `text` (textContent), `dataset` (object), `on<event>` handlers, any
 * other key becomes an attribute (true → present, false/null/undefined → absent). Children: nodes or strings
 * (strings become text nodes).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = String(value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export const byId = (id) => document.getElementById(id);

/** A recording badge element (the label is text; the tone only adds colour). */
export function badge({ label, tone }) {
  return h('span', { class: `badge badge-${tone}`, text: label });
}

/** Announces a short message to screen readers (polite live region). */
export function announce(text) {
  const region = byId('announcer');
  if (!region) return;
  region.textContent = '';
  setTimeout(() => (region.textContent = text), 50);
}
