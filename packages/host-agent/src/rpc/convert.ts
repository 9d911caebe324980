import {
  type Sandbox as SandboxMessage,
  SandboxSchema,
  SandboxState as StateEnum,
} from '@amber/proto/hostagent';
import { create } from '@bufbuild/protobuf';
import type { SandboxRecord, SandboxState } from '../sandbox.js';

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

export function toSandboxMessage(record: SandboxRecord & { generations?: number }): SandboxMessage {
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
  });
}
