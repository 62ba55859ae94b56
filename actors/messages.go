package actors

import "github.com/flowssl/flowssl/data"

// Demand asks the Loader for N more samples (Batcher → Loader). The sum of
// all demands is the most samples ever in flight: the Batcher grants at most
// prefetch × batch size, so no mailbox downstream of the Loader can grow
// past that.
type Demand struct{ N int }

// Ready says an augment worker is idle (worker → Loader, by Request so the
// Loader sees the worker as sender).
type Ready struct{}

// Work is one sample for a worker (Loader → worker).
type Work struct {
	Epoch, Pos int // position in the epoch's order, which fixes the batch
	Sample     data.Sample
	err        error // reading the sample failed; the worker applies the bad-image policy
}

// Views is one augmented sample (worker → Batcher). Err is set when the
// sample was skipped (bad image under on_bad_image: skip) or failed.
type Views struct {
	Epoch, Pos, Index, Label int
	Views                    []View
	ViewLabels               []int64 // per-view labels (rotation, relative location); nil if none
	Err                      error
	Skipped                  bool
}

// View is one CHW float32 image, with what a masked-image-modeling
// pipeline attaches to it.
type View struct {
	C, H, W int
	Data    []float32
	Mask    *Mask // SimMIM/BEiT patch mask of this view; nil if none
	Second  *View // CAE's tokenizer-size image of the same crop; nil if none
}

// Mask is one H×W grid of 0/1 bytes (1 = masked), row-major.
type Mask struct {
	H, W int
	Data []uint8
}

// Credit lets the Batcher send N more batches (Trainer → Batcher).
type Credit struct{ N int }

// Batch is one training batch (Batcher → Trainer), views stacked per view
// position in NCHW order so the trainer makes one tensor per position.
type Batch struct {
	Epoch, Iter, GlobalIter int
	LastInEpoch             bool
	Indices, Labels         []int
	Views                   []BatchView
	ViewLabels              [][]int64   // [view position][sample], nil if none
	Masks                   []BatchMask // [view position], nil if the views carry none
	Seconds                 []BatchView // [view position] CAE's second images, nil if none
	Skipped                 int         // samples of this batch dropped as bad images
}

// BatchMask is the N×H×W stack of one view position's masks, sample-major
// in the batch's Indices order.
type BatchMask struct {
	N, H, W int
	Data    []uint8
}

// BatchView is the stack of one view position.
type BatchView struct {
	N, C, H, W int
	Data       []float32
}

// EpochDone is sent by the Trainer to whoever waits on the run when an
// epoch's last batch has been stepped.
type EpochDone struct{ Epoch int }

// stopLoading tells the Loader to hand out no more work (graceful stop).
type stopLoading struct{}
