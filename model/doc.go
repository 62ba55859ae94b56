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
// # Determinism
//
// Initialisation and dropout draw from libtorch's generator: ManualSeed
// before construction reproduces a model.
package model
