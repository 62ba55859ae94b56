package model

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// TestBindingsDoNotLeakPerOp: the prepared gotch (tools/gotchprep's
// memfix) frees each binding's out-pointer slot and, for in-place ops,
// the duplicate handle. Unfixed, 100k out-of-place ops strand about 3 MB
// of malloc(0) chunks, and 100k in-place ops on temporaries keep every
// temporary's storage (a 4 KiB tensor each: 400 MB).
func TestBindingsDoNotLeakPerOp(t *testing.T) {
	lockThread(t)
	x := ts.MustOnes([]int64{1024}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	one := ts.FloatScalar(1)
	defer one.MustDrop()
	run := func(n int) {
		for i := 0; i < n; i++ {
			y, err := x.AddScalar(one, false) // out-of-place: one slot
			if err != nil {
				t.Fatal(err)
			}
			if err := y.AddScalar_(one); err != nil { // in-place on a temporary
				t.Fatal(err)
			}
			y.MustDrop()
		}
	}
	run(20000) // warm the allocator
	runtime.GC()
	debug.FreeOSMemory()
	before := rssBytes(t)
	run(100000)
	runtime.GC()
	debug.FreeOSMemory()
	grew := rssBytes(t) - before
	t.Logf("RSS grew %d KiB over 100k op pairs", grew>>10)
	if grew > 2<<20 {
		t.Fatalf("RSS grew %d KiB over 100k out-of-place + in-place ops: a binding leaks", grew>>10)
	}
}
