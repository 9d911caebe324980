import {
  type Sandbox as SandboxMessage,
  SandboxSchema,
  type Snapshot as SnapshotMessage,
  SnapshotSchema,
  SandboxState as StateEnum,
} from '@amber/proto/hostagent';
import { create } from '@bufbuild/protobuf';
import type { SandboxRecord, SandboxState } from '../sandbox.js';
import type { TemplateRecord } from '../templates.js';

const states: Record<SandboxState, StateEnum> = {
  starting: StateEnum.STARTING,
  running: StateEnum.RUNNING,
  pausing: StateEnum.PAUSING,
  paused: StateEnum.PAUSED,
  resuming: StateEnum.RESUMING,
  stopping: StateEnum.STOPPING,
  stopped: StateEnum.STOPPED,
  error: StateEnum.ERROR,
};

export function toSandboxMessage(record: SandboxRecord): SandboxMessage {
  return create(SandboxSchema, {
    id: record.id,
    state: states[record.state],
    vcpus: record.vcpus,
    memoryMib: record.memoryMib,
    template: record.template,
    metadata: record.metadata,
    createdAtMs: BigInt(record.createdAtMs),
    expiresAtMs: BigInt(record.expiresAtMs),
    error: record.error,
    generations: record.generations ?? 0,
    allowInternet: record.allowInternet ?? false,
    ...(record.egressRules && { egress: record.egressRules }),
  });
}

/** `dependents`: sandboxes spawned from the template (they keep its files alive; see templates.ts). */
export function toSnapshotMessage(template: TemplateRecord, sandboxes: SandboxRecord[]): SnapshotMessage {
  return create(SnapshotSchema, {
    name: template.name,
    vcpus: template.vcpus,
    memoryMib: template.memoryMib,
    createdAtMs: BigInt(template.createdAtMs),
    sourceSandboxId: template.sourceSandboxId,
    dependents: sandboxes.filter((s) => s.template === template.name).map((s) => s.id),
    memoryBytes: BigInt(template.memoryBytes),
    diskBytes: BigInt(template.diskBytes),
  });
}
