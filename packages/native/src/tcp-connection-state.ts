export interface TcpEndpoint {
  address: string;
  port: number;
}

/** An idle, established IPv4 connection as TCP_REPAIR reads it: plain numbers, safe to store as JSON. */
export interface TcpConnectionState {
  local: TcpEndpoint;
  remote: TcpEndpoint;
  sendSeq: number;
  recvSeq: number;
  mss: number;
  /** tcpi_options: TCPI_OPT_TIMESTAMPS (1), _SACK (2), _WSCALE (4). */
  options: number;
  sendWscale: number;
  recvWscale: number;
  timestamp: number;
  window: { sndWl1: number; sndWnd: number; maxWindow: number; rcvWnd: number; rcvWup: number };
}
