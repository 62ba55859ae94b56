package model

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// Pinned is a goroutine locked to one OS thread that runs the funcs sent to
// it, one at a time. gotch keeps its last error and libtorch its grad mode
// per OS thread, so every tensor operation of one owner (a test, an actor)
// goes through the same Pinned.
type Pinned struct {
	jobs      chan pinnedJob
	closeOnce sync.Once
	done      chan struct{}
}

type pinnedJob struct {
	f     func() error
	reply chan error
}

// ErrPinnedClosed is returned by Do after Close.
var ErrPinnedClosed = errors.New("model: Pinned is closed")

// NewPinned starts the pinned goroutine; Close stops it.
func NewPinned() *Pinned {
	p := &Pinned{jobs: make(chan pinnedJob), done: make(chan struct{})}
	started := make(chan struct{})
	go p.loop(started)
	<-started
	return p
}

func (p *Pinned) loop(started chan<- struct{}) {
	// Never unlocked: the thread's grad mode and error slot may have been
	// changed, so Go retires the thread when this goroutine exits.
	runtime.LockOSThread()
	close(started)
	for {
		select {
		case j := <-p.jobs:
			j.reply <- runPinned(j.f)
		case <-p.done:
			return
		}
	}
}

// runPinned turns a panic in f into an error so one bad job does not take
// the thread (and the caller waiting on it) down.
func runPinned(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("model: pinned func panicked: %v", r)
		}
	}()
	return f()
}

// Do runs f on the pinned thread and returns its error. It blocks until f
// returns. Calling Do from inside f deadlocks; call f's body directly.
func (p *Pinned) Do(f func() error) error {
	j := pinnedJob{f: f, reply: make(chan error, 1)}
	select {
	case p.jobs <- j:
	case <-p.done:
		return ErrPinnedClosed
	}
	return <-j.reply
}

// Close stops the goroutine after the running job, if any. Safe to call twice.
func (p *Pinned) Close() { p.closeOnce.Do(func() { close(p.done) }) }
