// Package model holds the gotch networks, heads, losses, algorithms, optimizers and schedules.
//
// Backbones (ResNet family), necks and heads are built from MMSelfSup config
// dicts through registries (BuildBackbone, BuildNeck, BuildHead), under an
// nn.Path whose segments are MMSelfSup's module names, so every variable's
// name is its PyTorch state-dict key ("backbone.layer1.0.bn1.running_mean").
// StateDict lists them in PyTorch's registration order, buffers included.
//
// # Ownership
//
// gotch tensors are C memory without finalizers. Functions and methods never
// drop their inputs; callers own every tensor returned to them (Forward
// outputs, Losses, Sinkhorn assignments) and must drop it; del=true in gotch
// calls is used only on temporaries a function created itself. Tensors held
// by a VarStore (parameters, buffers, the Named entries of StateDict) are
// borrowed: never drop them. A Scope collects the tensors of one step,
// Keep exempts the few that outlive it, and Close drops the rest.
//
// # Threads
//
// gotch's last error and libtorch's grad mode are per OS thread, so all
// tensor work of one owner runs on one Pinned goroutine (Pinned.Do).
// Forward passes use gotch's Must* calls (log.Fatal on failure) only after
// validating their input shapes, so bad input is an error, not an exit.
//
// # Several nodes
//
// An algorithm with cross-process pieces implements CollectiveUser; the
// trainer hands it the run's Collective (actors/dist) before the first
// step, and every rank then calls the same collectives in the same order.
// MoCo and DenseCL compute their keys with MMSelfSup's batch shuffle across
// the ranks (shuffleDDP / unshuffleDDP: images gathered, rank 0's
// permutation broadcast, each rank encodes its slice, keys gathered and
// unshuffled) and their queues take every rank's keys (ConcatAllGather);
// on one process the shuffle is emulated with shuffle_bn_groups
// sub-batches. SwAV's Sinkhorn-Knopp sums Q and its per-prototype row sums
// over the ranks (DistributedSinkhorn). MoCo v3's head contrasts against
// every rank's keys (labels offset by rank), SimCLR's NT-Xent runs over
// every rank's projections (GatherLayer: only the local rows carry
// gradient) and Barlow Twins' cross-correlation is summed over the ranks
// (transparent to autograd), all as in MMSelfSup. SyncBN layers, once
// EnableSyncBN hands them the Collective, normalise with the statistics of
// every rank's batch and their backward adds the cross-rank terms
// (SyncBNGroup).
//
// # Determinism
//
// Initialisation and dropout draw from libtorch's generator: ManualSeed
// before construction reproduces a model.
package model
