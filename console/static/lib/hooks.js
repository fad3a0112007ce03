// hooks.js: data hooks for the screens.
//
//   useLoad(fn, deps)          runs fn() (a promise) when deps change: {data, error, loading, reload, setData}
//   usePolling(fn, ms, active) calls fn every ms while active is true and the component is shown
//   useCursorList(path)        one page of a cursor list (GET path?cursor=…): {items, error, loading, reload,
//                              pager}; pass pager to <Pager>. A new path starts again at the first page.
//   useSubmit(fn)              a form's or an action's submission: {busy, error, run}
//   useCreate(path, initial, toBody, onCreated)
//                              a creation form's state: {values, set, error, busy, created, clear, submit}

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, get } from './api.js';

/** Loads fn()'s promise when deps change; an answer that arrives after newer deps is dropped. */
export function useLoad(fn, deps) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const seq = useRef(0);
  const reload = useCallback(() => {
    const n = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    return fn().then(
      (data) => n === seq.current && setState({ data, error: null, loading: false }),
      (error) => n === seq.current && setState((s) => ({ ...s, error, loading: false })),
    );
  }, deps);
  useEffect(() => {
    reload();
    return () => { seq.current++; };
  }, [reload]);
  const setData = (data) => setState((s) => ({ ...s, data }));
  return { ...state, reload, setData };
}

/** Calls fn every ms milliseconds while active, waiting for each call before scheduling the next. */
export function usePolling(fn, ms, active) {
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    if (!active) return undefined;
    let stopped = false;
    let timer;
    const tick = async () => {
      try {
        await latest.current();
      } catch {
        // the screen shows the error of its own load; polling goes on
      }
      if (!stopped) timer = setTimeout(tick, ms);
    };
    timer = setTimeout(tick, ms);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [ms, active]);
}

/** One page of the cursor list at path (which may hold a query); Previous/Next walk the pages. */
export function useCursorList(path) {
  const [pos, setPos] = useState({ path, cursors: [''] });
  const cursors = pos.path === path ? pos.cursors : [''];
  const cursor = cursors[cursors.length - 1];
  const sep = path.includes('?') ? '&' : '?';
  const list = useLoad(() => get(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path), [path, cursor]);
  const next = list.data && list.data.nextCursor;
  return {
    items: (list.data && list.data.items) || [],
    error: list.error,
    loading: list.loading,
    reload: list.reload,
    pager: {
      hasPrev: cursors.length > 1,
      hasNext: !!next,
      onPrev: () => setPos({ path, cursors: cursors.slice(0, -1) }),
      onNext: () => setPos({ path, cursors: [...cursors, next] }),
    },
  };
}

/**
 * A form's or an action's submission: run(...args) awaits fn(...args), busy meanwhile, and keeps what it threw
 * (an API error, {message, fields}) as error until it runs again.
 */
export function useSubmit(fn) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (...args) => {
    setBusy(true);
    setError(null);
    try {
      await fn(...args);
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };
  return { busy, error, run };
}

/**
 * The state of a creation form: its values (set(name) makes a field's onInput), and submit, which POSTs
 * toBody(values) to path, then empties the form, keeps the answer in created (clear() forgets it) and calls
 * onCreated with it. toBody may throw an error of the API's shape ({message, fields}) for a field the form
 * checks itself.
 */
export function useCreate(path, initial, toBody, onCreated) {
  const [values, setValues] = useState(initial);
  const [created, setCreated] = useState(null);
  const set = (name) => (v) => setValues((s) => ({ ...s, [name]: v }));
  const { busy, error, run } = useSubmit(async () => {
    setCreated(null);
    const item = await api('POST', path, toBody(values));
    setValues(initial);
    setCreated(item);
    onCreated(item);
  });
  return { values, set, error, busy, created, clear: () => setCreated(null), submit: run };
}
