package actors

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/memory"
	"github.com/flowssl/flowssl/model"
)

// A Memory actor owns an algorithm's memory (NPID's feature bank, ODC's
// samples and centroids memory) beside the training step. Its tensors live
// on the actor's own pinned OS thread (gotch's error slot and libtorch's
// grad mode are per thread), so the memory's work never runs on, or holds
// up, the Runner's thread except where the step needs an answer.
//
// # Protocol and ordering
//
// The step talks to the actor from the Runner's pinned thread through a
// memoryClient, with two kinds of messages:
//
//   - requests (ask): the step needs something from the memory now — NPID
//     the bank rows of its batch and negatives, ODC the batch's
//     pseudo-labels and class weights — and waits for the response;
//   - updates (tell): the step hands its detached features over and goes
//     on (backward, optimizer) while the actor writes them.
//
// The actor handles one message at a time in mailbox order, and every
// message of a run is sent from the same thread, so the mailbox is a FIFO
// of the step's own messages: the update of batch i is applied before the
// request of batch i+1 is answered. That is exactly MMSelfSup's order
// (forward i updates the bank before forward i+1 reads it), while the
// update itself overlaps batch i's backward and optimizer step. Checkpoint
// state is a request too, so it sees every update sent before it.
//
// # Bounds
//
// Each step sends at most one update, then one request whose answer it
// waits for, so at most two step messages (plus a checkpoint request) are
// ever queued; the mailbox is bounded (memoryMailbox) anyway, a sender
// blocking when it is full, so nothing can grow without bound. Update
// tensors are handed over, not copied: the queue holds at most one
// batch's features.
type memoryActor struct {
	pinned *model.Pinned
	fail   func(error)
}

// memoryMailbox bounds a Memory actor's mailbox.
const memoryMailbox = 8

// memoryTimeout bounds how long the step waits for an answer; the memory's
// work per request is one gather, so a timeout means the actor is gone.
const memoryTimeout = 10 * time.Minute

// memoryMsg is a message to a Memory actor. apply runs on the actor's
// pinned thread; its result is the response to a request, and its error
// fails the run when the message was an update.
type memoryMsg interface {
	apply() (any, error)
}

// memoryReply answers a request.
type memoryReply struct {
	v   any
	err error
}

func (a *memoryActor) Receive(c actor.Context) {
	m, ok := c.Message().(memoryMsg)
	if !ok {
		return
	}
	var v any
	err := a.pinned.Do(func() error {
		var err error
		v, err = m.apply()
		return err
	})
	if c.Sender() != nil {
		c.Respond(&memoryReply{v: v, err: err})
		return
	}
	if err != nil {
		a.fail(fmt.Errorf("memory: %w", err))
	}
}

// memoryClient is the step's side of a Memory actor.
type memoryClient struct {
	root   *actor.RootContext
	pid    *actor.PID
	pinned *model.Pinned
}

// errMemoryStopped is returned once the actor has been stopped.
var errMemoryStopped = errors.New("memory actor stopped")

// spawnMemory starts a Memory actor on a new pinned thread. init runs on
// that thread first (it creates the memory); the returned stop func stops
// the actor after its queued messages, runs closeFn on the thread and
// releases it.
func spawnMemory(root *actor.RootContext, props func(st *Stage, p actor.Producer) *actor.Props, st *Stage, fail func(error),
	init func() error, closeFn func()) (*memoryClient, func(), error) {
	pinned := model.NewPinned()
	if err := pinned.Do(func() error {
		if _, err := model.SetGradMode(false); err != nil {
			return err
		}
		return init()
	}); err != nil {
		pinned.Close()
		return nil, nil, err
	}
	a := &memoryActor{pinned: pinned, fail: fail}
	p := props(st, func() actor.Actor { return a }).Configure(actor.WithMailbox(actor.Bounded(memoryMailbox, st)))
	pid := root.Spawn(p)
	c := &memoryClient{root: root, pid: pid, pinned: pinned}
	stop := func() {
		_ = root.PoisonFuture(pid).Wait()
		_ = pinned.Do(func() error { closeFn(); return nil })
		pinned.Close()
		c.pid = nil
	}
	return c, stop, nil
}

// ask sends a request and waits for its answer.
func (c *memoryClient) ask(m memoryMsg) (any, error) {
	if c == nil || c.pid == nil {
		return nil, errMemoryStopped
	}
	res, err := c.root.RequestFuture(c.pid, m, memoryTimeout).Result()
	if err != nil {
		return nil, fmt.Errorf("memory actor: %w", err)
	}
	r, ok := res.(*memoryReply)
	if !ok {
		return nil, fmt.Errorf("memory actor answered %T", res)
	}
	return r.v, r.err
}

// tell sends an update and returns at once (blocking only while the
// bounded mailbox is full).
func (c *memoryClient) tell(m memoryMsg) error {
	if c == nil || c.pid == nil {
		return errMemoryStopped
	}
	c.root.Send(c.pid, m)
	return nil
}

// tensorsToDict moves a memory's State map (tensors the caller owns;
// dropped here) into a checkpoint dict.
func tensorsToDict(state map[string]*ts.Tensor) (*checkpoint.Dict, error) {
	defer memory.DropState(state)
	d := checkpoint.NewDict()
	keys := make([]string, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c, err := model.ToCheckpointTensor(state[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		d.Set(k, c)
	}
	return d, nil
}

// tensorsFromDict reads the named tensors of a checkpoint dict into new
// tensors (the caller drops them with memory.DropState).
func tensorsFromDict(d *checkpoint.Dict, keys ...string) (map[string]*ts.Tensor, error) {
	out := map[string]*ts.Tensor{}
	for _, k := range keys {
		c, err := d.Tensor(k)
		if err != nil {
			memory.DropState(out)
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		t, err := model.FromCheckpointTensor(c)
		if err != nil {
			memory.DropState(out)
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = t
	}
	return out, nil
}
