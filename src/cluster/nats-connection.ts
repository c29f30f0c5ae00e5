/**
 * @module cluster/nats-connection
 * The node's connection to NATS: any of the configured servers, tried again until a deadline
 * (NATS may be starting too), then a clear error naming QUIVER_NATS_URL. Once connected, the
 * client reconnects by itself forever; the node watches whether it is connected.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';

export async function connectWithin(options: { natsUrl: string; nodeId: string; connectTimeoutMs: number }, deadline: number): Promise<NatsConnection> {
  for (;;) {
    try {
      return await connect({
        servers: options.natsUrl.split(',').map((s) => s.trim()).filter(Boolean),
        name: `quiver-${options.nodeId}`,
        timeout: Math.max(100, Math.min(2000, deadline - Date.now())),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      });
    } catch (e) {
      if (Date.now() >= deadline) {
        throw new Error(
          `cannot reach NATS at ${options.natsUrl} (QUIVER_NATS_URL) within ${options.connectTimeoutMs} ms (QUIVER_NATS_CONNECT_TIMEOUT_MS): ${e instanceof Error ? e.message : String(e)}. Start the NATS servers first (README: cluster mode)`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
