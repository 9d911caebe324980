import type { Logger } from 'pino';
import type { KeyStore } from '../auth/key-store.js';
import type { EventLog } from '../services/event-log.js';
import type { ExecService } from '../services/exec-service.js';
import type { ExecStreamService } from '../services/exec-stream.js';
import type { FileService } from '../services/file-service.js';
import type { HostStatsService } from '../services/host-stats.js';
import type { SandboxService } from '../services/sandbox-service.js';
import type { TemplateService } from '../services/templates.js';
import type { Metrics } from './metrics.js';

/** What the routes need; built once in start.ts. */
export interface ApiContext {
  keys: KeyStore;
  sandboxes: SandboxService;
  templates: TemplateService;
  execs: ExecService;
  streams: ExecStreamService;
  files: FileService;
  events: EventLog;
  host: HostStatsService;
  /** The built dashboard (index.html and assets), served at `/` when it exists. */
  dashboardDir?: string;
  metrics: Metrics;
  log: Logger;
  version: string;
}
