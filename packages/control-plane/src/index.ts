export { apiKeyPath } from './bootstrap.js';
export { ApiError, type ApiErrorCode } from './errors.js';
export {
  type ControlPlaneOptions,
  DEFAULT_PORT,
  type RunningControlPlane,
  startControlPlane,
  startControlPlane as startAmber,
} from './start.js';
