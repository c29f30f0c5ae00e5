/**
 * @module cluster
 * Quiver as a cluster on NATS JetStream (cluster mode; a single node needs none of it): the
 * replicated log (log-stream.ts), the bucket of leases and statuses (registry.ts), and a
 * node's role in the cluster (node.ts).
 */
export { ClusterNode, type ClusterConfig, type ClusterNodeView, type ClusterStats } from './node.ts';
