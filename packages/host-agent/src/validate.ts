import type { AgentConfig } from './config.js';
import { AgentError } from './errors.js';
import { SANDBOX_ID } from './ids.js';
import { EgressRuleError, type EgressRules, parseEgressRules } from './network/egress-rules.js';

export interface CreateInput {
  vcpus?: number | undefined;
  memoryMib?: number | undefined;
  ttlSeconds?: number | undefined;
  template?: string | undefined;
  metadata?: Record<string, string> | undefined;
  allowInternet?: boolean | undefined;
  egress?: { allowOut?: string[]; denyOut?: string[] } | undefined;
}

export interface ValidCreate {
  vcpus: number;
  memoryMib: number;
  ttlSeconds: number;
  template: string;
  metadata: Record<string, string>;
  allowInternet: boolean;
  egressRules: EgressRules;
}

function bounded(name: string, value: number, min: number, max: number, unit = ''): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AgentError(
      'invalid_argument',
      `${name} must be between ${min} and ${max}${unit}, got ${value}`,
    );
  }
  return value;
}

export function validateTtl(config: AgentConfig, ttlSeconds: number): number {
  return bounded('ttl_seconds', ttlSeconds, 1, config.maxTtlSeconds, ' seconds');
}

/** Every bound is named in the message, so a caller can fix the request without reading code. */
export function validateCreate(config: AgentConfig, input: CreateInput): ValidCreate {
  const metadata = input.metadata ?? {};
  if (Object.keys(metadata).length > 64)
    throw new AgentError('invalid_argument', 'metadata may hold at most 64 keys');
  for (const [key, value] of Object.entries(metadata)) {
    if (key.length > 128 || value.length > 1024) {
      throw new AgentError(
        'invalid_argument',
        `metadata "${key.slice(0, 32)}": keys may be 128 and values 1024 characters`,
      );
    }
  }
  return {
    vcpus: bounded('vcpus', input.vcpus ?? config.defaults.vcpus, 1, config.maxVcpus),
    memoryMib: bounded(
      'memory_mib',
      input.memoryMib ?? config.defaults.memoryMib,
      config.minMemoryMib,
      config.memoryBudgetMib,
      ' MiB (the host memory budget)',
    ),
    ttlSeconds: validateTtl(config, input.ttlSeconds ?? config.defaults.ttlSeconds),
    template: input.template ?? '',
    metadata,
    allowInternet: input.allowInternet ?? config.allowInternetByDefault,
    egressRules: validateEgressRules(input.egress ?? {}),
  };
}

/** Invalid rules and rules Amber cannot honour (domains, ports, IPv6) are both the caller's to fix. */
export function validateEgressRules(input: { allowOut?: unknown; denyOut?: unknown }): EgressRules {
  try {
    return parseEgressRules(input);
  } catch (err) {
    if (err instanceof EgressRuleError) throw new AgentError('invalid_argument', err.message);
    throw err;
  }
}

export function validateSandboxId(id: string): string {
  if (!SANDBOX_ID.test(id))
    throw new AgentError('not_found', `sandbox ${JSON.stringify(id.slice(0, 64))} not found`);
  return id;
}

export function validateGuestPath(path: string): string {
  if (!path) throw new AgentError('invalid_argument', 'path is required');
  if (path.includes('\0')) throw new AgentError('invalid_argument', 'path must not contain NUL bytes');
  if (path.length > 4096) throw new AgentError('invalid_argument', 'path is longer than 4096 characters');
  return path;
}
