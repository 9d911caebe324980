export { createEnvdServer, ENVD_PORT, type EnvdOptions } from './server.js';
