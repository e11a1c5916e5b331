// DOM helpers. Data only ever reaches the page as text nodes or attribute values, never parsed as markup.

/**
 * Creates an element. `props`: `class`, `text` (textContent), `dataset` (object), `on<event>` handlers, any
 * other key becomes an attribute (true → present, false/null/undefined → absent). Children: nodes or strings
 * (strings become text nodes).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown> | null} [props]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = String(value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') for (const [k, v] of Object.entries(/** @type {Record<string, unknown>} */ (value))) el.dataset[k] = String(v);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** @typedef {Node | string | number | null | undefined | false | unknown[]} Child a node, text, nothing, or a (nested) list of them */

/**
 * @template {Element} E
 * @param {E} el
 * @param {Child[]} children
 * @returns {E}
 */
export function append(el, children) {
  for (const child of /** @type {Array<Node | string | number | null | undefined | false>} */ (children.flat(Infinity))) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/**
 * @template {Element} E
 * @param {E} el
 * @returns {E}
 */
export function clear(el) {
  el.replaceChildren();
  return el;
}

/**
 * An element of the page by id. The ids are those of index.html, so the element is there (callers of optional
 * elements still check).
 * @param {string} id
 */
export const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * A recording badge element (the label is text; the tone only adds colour).
 * @param {import('./format.js').Badge} badge
 */
export function badge({ label, tone }) {
  return h('span', { class: `badge badge-${tone}`, text: label });
}

/**
 * Announces a short message to screen readers (polite live region).
 * @param {string} text
 */
export function announce(text) {
  const region = byId('announcer');
  if (!region) return;
  region.textContent = '';
  setTimeout(() => (region.textContent = text), 50);
}
