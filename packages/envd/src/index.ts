export { createEnvdServer, ENVD_PORT, ENVD_VERSION, type EnvdOptions } from './server.js';
