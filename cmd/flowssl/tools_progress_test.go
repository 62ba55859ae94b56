package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/flowssl/flowssl/actors"
	"github.com/flowssl/flowssl/internal/progress"
)

// barRecorder hands out bars that draw into one buffer per description,
// and counts how many bars each description got.
type barRecorder struct {
	mu    sync.Mutex
	out   map[string]*bytes.Buffer
	count map[string]int
}

func newBarRecorder() *barRecorder {
	return &barRecorder{out: map[string]*bytes.Buffer{}, count: map[string]int{}}
}

func (r *barRecorder) bars(desc string, total int) *progress.Bar {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.out[desc] == nil {
		r.out[desc] = &bytes.Buffer{}
	}
	r.count[desc]++
	return progress.NewTo(r.out[desc], desc, total)
}

// get returns what the bars named desc drew, and how many there were.
func (r *barRecorder) get(desc string) (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.out[desc] == nil {
		return "", 0
	}
	return r.out[desc].String(), r.count[desc]
}

// The hook's bar spans every iteration of the run, starts where a resumed
// run starts, and ends its line exactly once.
func TestTrainBarHook(t *testing.T) {
	rec := newBarRecorder()
	h := &trainBar{desc: "linear train", bars: rec.bars}
	st := &actors.RunState{MaxEpochs: 2, ItersPerEpoch: 3, MaxIters: 6, Iter: 2}
	if err := h.BeforeRun(st); err != nil {
		t.Fatal(err)
	}
	for it := 2; it < 6; it++ {
		st.Iter = it
		if err := h.AfterTrainIter(st); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.AfterRun(st); err != nil {
		t.Fatal(err)
	}
	h.finish() // runLinear's call after Train: no second newline
	const desc = "linear train (2 epochs × 3 iters)"
	out, n := rec.get(desc)
	if n != 1 {
		t.Fatalf("%d bars named %q (have %v)", n, desc, rec.count)
	}
	for _, want := range []string{"\r" + desc + " [", "2/6  33%", "6/6 100%"} {
		if !strings.Contains(out, want) {
			t.Fatalf("bar output %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "0/6") || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("bar output %q: want a start at 2/6 and one final newline", out)
	}
	// A nil bar (stderr no terminal) is a no-op all the way through.
	quiet := &trainBar{desc: "x", bars: func(string, int) *progress.Bar { return nil }}
	_ = quiet.BeforeRun(st)
	_ = quiet.AfterTrainIter(st)
	_ = quiet.AfterRun(st)
	quiet.finish()
}

// clearLine erases the bar's line before each log line it writes.
func TestClearLine(t *testing.T) {
	var buf bytes.Buffer
	if _, err := (clearLine{&buf}).Write([]byte("INF linear\n")); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "\r\x1b[KINF linear\n" {
		t.Fatalf("wrote %q", got)
	}
}

// linear draws a bar over its training iterations (64 images / 32 per
// batch × 2 epochs = 4) and one over the 40 val images, while the JSON
// log lines stay one valid JSON object each, free of bar output.
func TestLinearProgressBars(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a linear probe")
	}
	dir := t.TempDir()
	rec := newBarRecorder()
	var logs bytes.Buffer
	o := linearOptions{Config: linearShapes, WorkDir: filepath.Join(dir, "linear"), Opts: append(tinyLinear, narrowResNet...),
		Deterministic: true, Workers: 1, Logger: zerolog.New(&logs), Bars: rec.bars}
	if _, err := runLinear(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	train, n := rec.get("linear train (2 epochs × 2 iters)")
	if n != 1 || !strings.Contains(train, "4/4 100%") || strings.Count(train, "\n") != 1 {
		t.Fatalf("training bar (%d of them): %q; bars %v", n, train, rec.count)
	}
	ev, n := rec.get("evaluate data.val")
	if n != 1 || !strings.Contains(ev, "40/40 100%") {
		t.Fatalf("evaluation bar (%d of them): %q", n, ev)
	}
	checkJSONLines(t, logs.String(), "linear evaluation")
}

// semi draws the evaluation bar twice (before and after fine-tuning) and a
// fine-tuning bar over its iterations (about half of 32 images labelled,
// 16 per batch, 2 epochs).
func TestSemiProgressBars(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes a network")
	}
	dir := t.TempDir()
	rec := newBarRecorder()
	var logs bytes.Buffer
	o := semiOptions{LabelFraction: 0.5}
	o.Config = "benchmarks/classification/shapes/resnet18_head10_1xb64-steplr1e-2-20e_shapes-32px-10pct.yaml"
	o.WorkDir = filepath.Join(dir, "semi")
	o.Opts = append([]string{"data.train.data_source.num_samples=32", "data.val.data_source.num_samples=24",
		"data.samples_per_gpu=16", "runner.max_epochs=2", "lr_config.step=[1]", "checkpoint_config.interval=2"}, narrowResNet...)
	o.Deterministic, o.Workers, o.Logger, o.Bars = true, 1, zerolog.New(&logs), rec.bars
	res, err := runSemi(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ipe := (res.Labelled + 15) / 16
	if res.Of != 32 || res.Labelled < 10 || res.Labelled > 22 {
		t.Fatalf("%d of %d labelled, want about half of 32", res.Labelled, res.Of)
	}
	train, n := rec.get(fmt.Sprintf("semi fine-tune (2 epochs × %d iters)", ipe))
	if n != 1 || !strings.Contains(train, fmt.Sprintf("%d/%d 100%%", 2*ipe, 2*ipe)) {
		t.Fatalf("fine-tuning bar (%d of them): %q; bars %v", n, train, rec.count)
	}
	ev, n := rec.get("evaluate data.val")
	if n != 2 || strings.Count(ev, "24/24 100%") < 2 {
		t.Fatalf("evaluation bars (%d of them): %q", n, ev)
	}
	checkJSONLines(t, logs.String(), "semi-supervised evaluation")
}

// checkJSONLines requires every line of logs to be one JSON object without
// a carriage return, and one of them to carry message msg.
func checkJSONLines(t *testing.T, logs, msg string) {
	t.Helper()
	found := false
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if strings.Contains(line, "\r") || json.Unmarshal([]byte(line), &m) != nil {
			t.Fatalf("log line is not clean JSON: %q", line)
		}
		found = found || m["message"] == msg
	}
	if !found {
		t.Fatalf("no %q line in the logs:\n%s", msg, logs)
	}
}
