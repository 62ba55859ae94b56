package main

import (
	"fmt"
	"io"
	"os"

	"github.com/flowssl/flowssl/actors"
	"github.com/flowssl/flowssl/internal/progress"
)

// barFunc makes a progress bar; nil stands for progress.New (stderr, and
// only when stderr is a terminal). Tests pass one that draws to a buffer.
type barFunc func(desc string, total int) *progress.Bar

// newBar calls f, or progress.New when f is nil.
func (f barFunc) newBar(desc string, total int) *progress.Bar {
	if f == nil {
		return progress.New(desc, total)
	}
	return f(desc, total)
}

// trainBar is a runner hook drawing a bar over a run's iterations (every
// epoch of linear's and semi's training). It only writes to the bar's
// writer — stderr, never the zerolog logger — so the JSON log lines in the
// work dir are untouched.
type trainBar struct {
	desc  string
	bars  barFunc
	bar   *progress.Bar
	ended bool
}

var (
	_ actors.BeforeRunHook      = (*trainBar)(nil)
	_ actors.AfterTrainIterHook = (*trainBar)(nil)
	_ actors.AfterRunHook       = (*trainBar)(nil)
)

// Name implements actors.Hook.
func (h *trainBar) Name() string { return "ProgressBarHook" }

// Priority implements actors.Hook: lowest, so the bar moves after the
// optimizer, checkpoint and logger hooks have done the iteration's work.
func (h *trainBar) Priority() int { return actors.PriorityLowest }

// BeforeRun opens the bar over every iteration of the run; a resumed run
// starts it at the iteration it resumes from.
func (h *trainBar) BeforeRun(s *actors.RunState) error {
	desc := h.desc
	if s.MaxEpochs > 0 {
		desc = fmt.Sprintf("%s (%d epochs × %d iters)", h.desc, s.MaxEpochs, s.ItersPerEpoch)
	}
	h.bar = h.bars.newBar(desc, s.MaxIters)
	h.bar.Set(s.Iter)
	return nil
}

// AfterTrainIter advances the bar to the iterations done so far.
func (h *trainBar) AfterTrainIter(s *actors.RunState) error {
	h.bar.Set(s.Iter + 1)
	return nil
}

// AfterRun ends the bar's line.
func (h *trainBar) AfterRun(*actors.RunState) error {
	h.finish()
	return nil
}

// finish ends the bar's line once; runLinear calls it after Train returns,
// so a failed run does not leave the error message on the bar's line.
func (h *trainBar) finish() {
	if h.bar != nil && !h.ended {
		h.ended = true
		h.bar.Finish()
	}
}

// clearLine prefixes every write with "\r" and erase-line, so a log line
// printed while a bar is drawn replaces the bar instead of being appended
// to it (the bar redraws at its next step). zerolog's ConsoleWriter writes
// one event per Write.
type clearLine struct{ w io.Writer }

func (c clearLine) Write(p []byte) (int, error) {
	if _, err := io.WriteString(c.w, "\r\x1b[K"); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// evalConsole is the console writer of the evaluation commands: stderr,
// line-clearing when it is a terminal (the only case bars are drawn).
func evalConsole() io.Writer {
	if progress.IsTerminal(os.Stderr) {
		return clearLine{os.Stderr}
	}
	return os.Stderr
}
