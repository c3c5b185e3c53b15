// Instances on a time axis: one lane per instance, coloured by state; retried instances are outlined.
import { duration, h } from './dom.js';
import { legend } from './charts.js';

export function gantt(instances, onPick) {
  const started = instances.filter((i) => i.startedAt);
  if (!started.length) return h('p', { class: 'muted' }, 'No instance has started yet.');
  const t0 = Math.min(...started.map((i) => i.startedAt));
  const t1 = Math.max(...instances.map((i) => i.finishedAt ?? (i.startedAt ? Date.now() : 0)), t0 + 1);
  const pct = (t) => `${((t - t0) / (t1 - t0)) * 100}%`;
  return h('div', {},
    h('div', { class: 'muted', style: { fontSize: '12px' } }, `0 → ${duration(t1 - t0)}`),
    h('div', { class: 'gantt', 'data-gantt': '' }, instances.map((i) => {
      const end = i.finishedAt ?? Date.now();
      const title = `instance ${i.idx}: ${i.state}${i.attempt > 1 ? `, attempt ${i.attempt}` : ''}${i.startedAt ? `, ${duration(end - i.startedAt)}` : ''}${i.errorKind ? `, ${i.errorKind}` : ''}`;
      return h('div', { class: 'lane' },
        i.startedAt
          ? h('div', { class: `bar s-${i.state}${i.attempt > 1 ? ' retried' : ''}`, 'data-instance': i.idx, title, style: { left: pct(i.startedAt), width: `calc(${pct(end)} - ${pct(i.startedAt)})` }, onclick: () => onPick(i.idx) }, `#${i.idx}`)
          : h('div', { class: 'bar s-pending', title, 'data-instance': i.idx, style: { left: 0, width: '3px' } }),
      );
    })),
    legend(['succeeded', 'running', 'failed', 'cancelled', 'pending']),
  );
}
