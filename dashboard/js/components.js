// What the dashboard shows about a task's component: its name and the scaling policy it ships with.
import { get } from './api.js';

let cache;
/** Components by digest, read once per page view. */
export async function componentsByDigest(fresh = false) {
  if (!cache || fresh) cache = get('/api/v1/components').then(({ items }) => new Map(items.map((c) => [c.digest, c])));
  return cache.catch((e) => {
    cache = undefined;
    throw e;
  });
}

export function componentName(task, byDigest) {
  const c = byDigest.get(task.digest);
  if (/@/.test(task.component) && !/[\\/]/.test(task.component)) return task.component;
  return c?.versions?.[0] ?? task.component.split('/').pop();
}

export function manifestText(m) {
  if (!m) return null;
  return `split ${m.split} per ${typeof m.per === 'number' ? formatSize(m.per) : m.per}${m.max ? `, max ${m.max}` : ''}`;
}

/** Precedence as the scheduler applies it: plan export, then embedded manifest, then one instance; the flow only caps. */
export function scalingPolicy(task, byDigest) {
  const c = byDigest.get(task.digest);
  const base = !c ? 'unknown component' : c.hasPlan ? 'plan export (the component decides)' : c.manifest ? `manifest: ${manifestText(c.manifest)}` : 'single instance';
  const caps = [task.maxInstances ? `maxInstances ${task.maxInstances}` : null, task.concurrency ? `concurrency ${task.concurrency}` : null].filter(Boolean);
  return caps.length ? `${base}; capped by ${caps.join(', ')}` : base;
}

function formatSize(n) {
  for (const [u, f] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]]) if (n >= f && n % f === 0) return `${n / f}${u}`;
  return `${n} B`;
}
