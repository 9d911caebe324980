import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SandboxStore } from '../services/sandbox-store.js';
import { SANDBOX_STATES } from '../services/sandbox-view.js';

/** Prometheus metrics: sandboxes by state (read from the database at scrape), request and operation latency. */
export class Metrics {
  readonly registry = new Registry();
  readonly requests: Histogram<'method' | 'route' | 'status'>;
  readonly operations: Histogram<'operation' | 'outcome'>;
  readonly policyActions: Counter<'action'>;

  constructor(store: SandboxStore) {
    this.requests = new Histogram({
      name: 'amber_http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.operations = new Histogram({
      name: 'amber_operation_duration_seconds',
      help: 'Sandbox operation latency (create, exec, pause, resume, fork, snapshot, ...)',
      labelNames: ['operation', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [this.registry],
    });
    this.policyActions = new Counter({
      name: 'amber_timeout_actions_total',
      help: 'Sandboxes paused or killed by their timeout',
      labelNames: ['action'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'amber_sandboxes',
      help: 'Sandboxes by state',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const counts = new Map((await store.countByState()).map((c) => [c.state, c.count]));
        for (const state of SANDBOX_STATES) this.set({ state }, counts.get(state) ?? 0);
      },
    });
  }

  /** Times an operation, labelled by whether it succeeded. */
  async time<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const end = this.operations.startTimer({ operation });
    try {
      const result = await fn();
      end({ outcome: 'ok' });
      return result;
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
  }
}
