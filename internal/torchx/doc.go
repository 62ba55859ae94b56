// Package torchx holds the few libtorch helpers that gotch v0.7.0 lacks or
// gets wrong, shared by the tensor packages (memory, cluster, and later model).
//
// # Threads
//
// libtorch's grad mode and gotch's last error are per OS thread, so every
// function here, and every tensor function of the packages that use it, must
// run on a goroutine locked with runtime.LockOSThread, and the same thread
// must own a tensor's whole life (create, use, drop).
//
// # Errors
//
// Nothing here calls log.Fatal: gotch's Must* forms do, which no supervisor
// can recover from. Run turns a gotch error raised through a Scope into an
// ordinary returned error.
//
// # Ownership
//
// A Scope owns every tensor passed to T, Track or created by its helpers; Run
// drops them when fn returns, except those marked with Keep, which pass to
// the caller. On error Run drops the kept ones too, so a failed call leaks
// nothing and returns no tensor. Code inside a Scope never passes del=true to
// a gotch call on a tracked tensor (it would be freed twice).
package torchx
