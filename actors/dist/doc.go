// Package dist runs data-parallel training across processes over protoactor-go's remote layer.
//
// # Membership
//
// Rank 0 is the coordinator: it listens (127.0.0.1 by default) and waits for
// World-1 nodes to join it with the cluster token. A node with a wrong token,
// a world size that differs or a rank already taken is refused and told why.
// Once every rank has joined, the coordinator sends each node the member list
// (rank → address), a random session id and its payload (the CLI sends the
// resolved config); from then on a message without the session id is dropped.
// Membership is an explicit list over protoactor's remote rather than its
// cluster layer: a training job is a fixed set of ranks that all take part in
// every step, so it needs neither virtual actors, identity lookup nor gossip,
// and the cluster layer's providers carry no join secret. The fixed-list
// provider in particular (clusterproviders/automanaged at the pinned commit)
// serves its member list over plain HTTP on 0.0.0.0 (the address is
// hard-coded in startActiveProvider), with neither TLS nor authentication,
// which would break this package's loopback-by-default and token rules.
// Larger deployments start the same processes from a scheduler
// (Kubernetes, Slurm) with the coordinator's address; see README.md.
//
// # Wire format
//
// Every message crossing nodes is a google.protobuf.BytesValue (registered
// with protobuf's global registry, so remote's proto serializer carries it
// unchanged) whose bytes are this package's framing: a kind byte, then
// fixed little-endian fields and length-prefixed strings and float32 data.
// No generated code or protoc is needed.
//
// # Collectives
//
// AllReduceMean cuts a flat float32 buffer into World contiguous shards and
// each shard into buckets (4 MiB by default); rank r reduces shard r: it
// sums the World contributions to each of its buckets in rank order,
// divides by World and sends the result to every rank. This is a
// reduce-scatter plus all-gather over a full mesh: each node sends and
// receives 2(W-1)/W of the buffer, as a ring does, in two hops instead of
// 2(W-1), and the fixed summation order makes the result bit-identical on
// every rank and in every run.
// Broadcast sends rank 0's bytes in chunks; AllGather concatenates every
// rank's rows in rank order. Every rank must call the same collectives in
// the same order.
//
// # What else crosses the nodes
//
// Besides the gradient all-reduce, the algorithms and extensions use the
// same three collectives (through model.Collective and actors.Distributed):
//   - MoCo v1/v2 and DenseCL: batch-shuffle BN (key images all-gathered,
//     rank 0's permutation broadcast, keys all-gathered and unshuffled) and
//     concat_all_gather of the keys before every enqueue (both of DenseCL's
//     queues);
//   - MoCo v3: the keys all-gathered in the head (labels offset by rank);
//     SimCLR: the projections all-gathered with MMSelfSup's GatherLayer
//     semantics; Barlow Twins: the cross-correlation matrix all-reduced;
//   - SwAV: the Sinkhorn-Knopp total and row sums all-reduced (summed) in
//     every iteration; each rank's SwAVHook queue holds queue_length/World
//     rows;
//   - DeepCluster (sync) and ODC: each rank extracts a batch-aligned shard
//     of the dataset, the features are all-gathered in chunks of at most 16
//     MiB, rank 0 runs k-means and broadcasts the labels; ODC all-gathers
//     each step's indices and features so that every rank's memory applies
//     the same update, and so does NPID for its memory bank (negatives are
//     drawn per rank);
//   - SyncBN (norm_cfg type SyncBN): every layer all-reduces its count and
//     mean, then its centred sum of squares, in the forward, and its
//     statistics' gradients after the backward (model.SyncBNGroup: one
//     extra partial backward per layer, about three small all-reduces per
//     layer and step).
//
// DeepCluster's async clustering mode is refused on several nodes.
//
// # Failure
//
// Nodes send each other heartbeats; a peer silent for longer than the
// timeout, a lost connection, or an Abort from a peer fails the Node: every
// collective in progress or later returns the error and Done is closed.
package dist
