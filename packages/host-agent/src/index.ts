export { type AgentOptions, type RunningAgent, startAgent } from './agent.js';
export { type AgentConfig, loadConfig } from './config.js';
export { AgentError, type AgentErrorCode } from './errors.js';
export { connectHostAgent, type HostAgentClient, type HostAgentConnection } from './rpc/client.js';
export { SandboxManager } from './sandbox-manager.js';
