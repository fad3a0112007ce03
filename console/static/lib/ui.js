// ui.js: the console's shared components, small and accessible. Every control has a real <label>; errors
// are linked to their control with aria-describedby and announced; nothing relies on colour alone.
//
//   Field         label + input/select/textarea/checkbox + hint + error text (aria-describedby, aria-invalid)
//   Form          <form noValidate> with the error summary and the submit Button; focuses the first error
//   Button        <button>, type="button" unless told; kind 'primary' | 'secondary' | 'danger' | 'link'
//   CopyButton    copies text to the clipboard and says so
//   CopyValue     a labelled read-only value with its CopyButton (callback URL, verify token)
//   Notice        a message: kind 'info' | 'success' (role=status) or 'warning' | 'error' (role=alert)
//   Spinner       "Loading…" as a status
//   Progress      a labelled <progress>
//   Table         a table with a caption, headers by column, and a text for no rows
//   Pager         Previous/Next page buttons for cursor lists (see useCursorList in hooks.js)
//   ConfirmDialog a modal <dialog> asking to confirm an action
//   fieldError    the API's error for a field path; formatTime, a time for people
//
// Field errors come from ApiError.fields (lib/api.js), keyed by the API's JSON paths (basic.ouId,
// basic.workTime.workday[1]); a screen passes fieldError(error, path) to the Field that edits that path.

import { Component } from 'preact';
import { html } from 'htm/preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';

/** The API's message for the field at path in error (an ApiError), or ''. */
export function fieldError(error, path) {
  return (error && error.fields && error.fields[path]) || '';
}

/** An RFC 3339 time as the browser's locale writes it, or '' for none. */
export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/**
 * A labelled control. type: 'text' (default), 'password', 'number', 'time', 'select' (options: [{value,
 * label}]), 'textarea', 'checkbox' (value is a boolean). onInput receives the new value (a string, or a
 * boolean for a checkbox). error and hint are texts shown under the control and linked to it. Other props
 * (name, autocomplete, min, max, maxLength, readOnly, inputRef…) go to the control.
 */
export function Field({ label, type = 'text', value, onInput, error, hint, options = [], required, inputRef,
  class: cls = '', ...rest }) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hint && hintId, error && errorId].filter(Boolean).join(' ') || undefined;
  const props = {
    id, ref: inputRef, 'aria-invalid': error ? 'true' : undefined, 'aria-describedby': describedBy,
    'aria-required': required ? 'true' : undefined, ...rest,
  };
  const hintEl = hint && html`<p id=${hintId} class="hint">${hint}</p>`;
  const errorEl = error && html`<p id=${errorId} class="error-text">${error}</p>`;
  if (type === 'checkbox') {
    return html`<div class="field check ${error ? 'invalid' : ''} ${cls}">
      <input type="checkbox" ...${props} checked=${!!value} onChange=${(e) => onInput(e.currentTarget.checked)} />
      <label for=${id}>${label}</label>${hintEl}${errorEl}</div>`;
  }
  let control;
  if (type === 'select') {
    control = html`<select ...${props} value=${value} onChange=${(e) => onInput(e.currentTarget.value)}>
      ${options.map((o) => html`<option value=${o.value} selected=${o.value === value}>${o.label}</option>`)}
    </select>`;
  } else if (type === 'textarea') {
    control = html`<textarea rows="3" ...${props} value=${value} onInput=${(e) => onInput(e.currentTarget.value)} />`;
  } else {
    control = html`<input type=${type} ...${props} value=${value ?? ''}
      onInput=${(e) => onInput(e.currentTarget.value)} />`;
  }
  return html`<div class="field ${error ? 'invalid' : ''} ${cls}">
    <label for=${id}>${label}${required && html`<span class="req" aria-hidden="true"> *</span>`}</label>
    ${hintEl}${control}${errorEl}</div>`;
}

/**
 * A form: onSubmit runs on submit (never the browser's own validation: the API's rules are the ones shown).
 * error is the last ApiError (or Error): its message and every field error are summarised at the top, and
 * after it changes the focus moves to the first control marked invalid, or to the summary. labels maps API
 * field paths to the labels the summary names them by. actions are more buttons beside the submit button.
 */
export function Form({ onSubmit, submitLabel, error, busy, labels = {}, actions, children, class: cls = '' }) {
  const formRef = useRef();
  useEffect(() => {
    if (!error || !formRef.current) return;
    const first = formRef.current.querySelector('[aria-invalid="true"]');
    (first || formRef.current.querySelector('.error-summary')).focus();
  }, [error]);
  const submit = (e) => {
    e.preventDefault();
    if (!busy) onSubmit(e);
  };
  return html`<form ref=${formRef} class=${cls} noValidate onSubmit=${submit}>
    ${error && html`<${ErrorSummary} error=${error} labels=${labels} />`}
    ${children}
    <div class="actions">
      <${Button} type="submit" kind="primary" busy=${busy}>${submitLabel}</${Button}>
      ${actions}
    </div>
  </form>`;
}

/**
 * The error summary of a form: the message and each field's error, announced as an alert. labels maps the
 * API's field paths to labels, in the order the form shows them, which the list follows; a path with an index
 * is named by its list's label and position ("basic.workTime.workday[1].start" as "Workday 2 start").
 */
export function ErrorSummary({ error, labels = {} }) {
  const order = Object.keys(labels);
  const base = (path) => path.replace(/\[\d+\].*$/, '');
  const rank = (path) => (order.includes(base(path)) ? order.indexOf(base(path)) : order.length);
  const fields = Object.entries((error && error.fields) || {}).sort(([a], [b]) => rank(a) - rank(b));
  return html`<div class="error-summary" role="alert" tabindex="-1">
    <p><strong>${error.message || 'Something went wrong.'}</strong></p>
    ${fields.length > 0 && html`<ul>${fields.map(([path, msg]) =>
      html`<li key=${path}>${labelOf(labels, path)}: ${msg}</li>`)}</ul>`}
  </div>`;
}

/** The label of an API field path, by labels; see ErrorSummary. */
function labelOf(labels, path) {
  if (labels[path]) return labels[path];
  const m = /^(.*?)\[(\d+)\]\.?(.*)$/.exec(path);
  if (m && labels[m[1]]) return `${labels[m[1]]} ${Number(m[2]) + 1}${m[3] ? ` ${m[3]}` : ''}`;
  return path;
}

/** A button; busy disables it and says so. kind: 'primary', 'secondary' (default), 'danger' or 'link'. */
export function Button({ kind = 'secondary', type = 'button', busy, disabled, children, class: cls = '', ...rest }) {
  return html`<button type=${type} class="btn ${kind} ${cls}" disabled=${disabled || busy}
    aria-busy=${busy ? 'true' : undefined} ...${rest}>${children}${busy && html`<span class="busy" aria-hidden="true"></span>`}</button>`;
}

/** A button that copies text to the clipboard; label is its accessible text, e.g. "Copy callback URL". */
export function CopyButton({ text, label }) {
  const [done, setDone] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('Copied.');
    } catch {
      setDone('Copying was refused: select the text and copy it.');
    }
    setTimeout(() => setDone(''), 4000);
  };
  return html`<span class="copy"><${Button} onClick=${copy}>${label}</${Button}>
    <span class="copy-status" role="status">${done}</span></span>`;
}

/** A read-only value with a label and a copy button, e.g. the callback URL to paste into Meta. */
export function CopyValue({ label, value, copyLabel }) {
  const id = useId();
  return html`<div class="field copy-value">
    <label for=${id}>${label}</label>
    <div class="copy-row">
      <input id=${id} type="text" readOnly value=${value} onFocus=${(e) => e.currentTarget.select()} />
      <${CopyButton} text=${value} label=${copyLabel} />
    </div>
  </div>`;
}

/** A message; 'warning' and 'error' are alerts, 'info' and 'success' statuses. */
export function Notice({ kind = 'info', children, class: cls = '' }) {
  const role = kind === 'error' || kind === 'warning' ? 'alert' : 'status';
  return html`<div class="notice ${kind} ${cls}" role=${role}>${children}</div>`;
}

/** A loading indicator that screen readers announce. */
export function Spinner({ label = 'Loading…' }) {
  return html`<p class="spinner" role="status"><span class="spin" aria-hidden="true"></span>${label}</p>`;
}

/** A labelled progress bar; value undefined shows an indeterminate one. */
export function Progress({ label, value, max = 100 }) {
  const id = useId();
  return html`<div class="progress">
    <label for=${id}>${label}</label>
    <progress id=${id} value=${value} max=${max}>${value === undefined ? '' : `${value} / ${max}`}</progress>
  </div>`;
}

/**
 * A table. columns: [{label, render: (row) => content, class}]; rows keyed by rowKey(row). empty is shown
 * instead of an empty table. The wrapper scrolls sideways on narrow screens.
 */
export function Table({ caption, columns, rows, rowKey, empty = 'Nothing here yet.' }) {
  if (!rows || rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<div class="table-wrap"><table>
    ${caption && html`<caption>${caption}</caption>`}
    <thead><tr>${columns.map((c) => html`<th scope="col" class=${c.class}>${c.label}</th>`)}</tr></thead>
    <tbody>${rows.map((row) => html`<tr key=${rowKey(row)}>
      ${columns.map((c) => html`<td class=${c.class}>${c.render(row)}</td>`)}</tr>`)}</tbody>
  </table></div>`;
}

/** Previous and Next page buttons for a cursor list; takes the pager of useCursorList. */
export function Pager({ hasPrev, hasNext, onPrev, onNext, label = 'Pages' }) {
  if (!hasPrev && !hasNext) return null;
  return html`<nav class="pager" aria-label=${label}>
    <${Button} onClick=${onPrev} disabled=${!hasPrev}>Previous page</${Button}>
    <${Button} onClick=${onNext} disabled=${!hasNext}>Next page</${Button}>
  </nav>`;
}

/**
 * A modal dialog asking to confirm: open shows it, onConfirm and onCancel answer it (Escape cancels). The
 * dialog keeps the focus inside while open and gives it back afterwards.
 */
export function ConfirmDialog({ open, title, children, confirmLabel, cancelLabel = 'Cancel', danger, busy,
  onConfirm, onCancel }) {
  const ref = useRef();
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return html`<dialog ref=${ref} class="dialog" aria-labelledby=${titleId}
    onCancel=${(e) => { e.preventDefault(); onCancel(); }}>
    <h2 id=${titleId}>${title}</h2>
    <div class="dialog-body">${children}</div>
    <div class="actions">
      <${Button} kind=${danger ? 'danger' : 'primary'} busy=${busy} onClick=${onConfirm}>${confirmLabel}</${Button}>
      <${Button} onClick=${onCancel}>${cancelLabel}</${Button}>
    </div>
  </dialog>`;
}

/**
 * Catches a rendering error of its children and shows it instead of a blank page; where names what failed
 * ("the Channels screen").
 */
export class ErrorBoundary extends Component {
  constructor() {
    super();
    this.state = { error: null };
  }

  componentDidCatch(error) {
    this.setState({ error });
  }

  render({ where, children }, { error }) {
    if (error) {
      return html`<${Notice} kind="error">
        <p>${where} failed: ${String(error.message || error)}.</p>
        <p>Reload the page to try again.</p></${Notice}>`;
    }
    return children;
  }
}
