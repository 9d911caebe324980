export { type AgentOptions, type RunningAgent, startAgent } from './agent.js';
export { type AgentConfig, loadConfig } from './config.js';
export { type CommandEnd, commandEnd, type ProcessEnd } from './envd/process-end.js';
export { AgentError, type AgentErrorCode, REASON_HEADER } from './errors.js';
export { type CheckStatus, checkHost, type HostCheck } from './host-checks.js';
export { KeyedMutex } from './keyed-mutex.js';
export {
  ALL_TRAFFIC,
  EgressRuleError,
  type EgressRules,
  parseEgressRules,
  rulesScript,
} from './network/egress-rules.js';
export { applyPrune, type PruneItem, type PrunePlan, planPrune } from './prune.js';
export { POOLED_QEMU_MIB, qemuOverheadMib } from './qemu-overhead.js';
export { connectHostAgent, type HostAgentClient, type HostAgentConnection } from './rpc/client.js';
export { SandboxManager } from './sandbox-manager.js';
