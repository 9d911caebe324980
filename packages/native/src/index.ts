export { connectInNetns } from './netns-socket.js';
