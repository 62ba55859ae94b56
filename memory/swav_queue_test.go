package memory

import (
	"testing"
)

func TestSwAVQueueLength(t *testing.T) {
	cases := []struct {
		length, batch, world, want int
	}{
		{3840, 32, 1, 3840}, // SwAV config on one process
		{3840, 32, 8, 480},  // 8 GPUs: 480 rows each
		{1000, 32, 1, 992},  // rounded down to a multiple of the batch
		{0, 32, 1, 0},
	}
	for _, c := range cases {
		cfg := DefaultSwAVQueueConfig()
		cfg.QueueLength, cfg.BatchSize, cfg.WorldSize = c.length, c.batch, c.world
		q, err := NewSwAVQueue(cfg, testDevice)
		if err != nil {
			t.Fatal(err)
		}
		if q.Length() != c.want {
			t.Fatalf("%+v: length %d, want %d", c, q.Length(), c.want)
		}
	}
}

// TestSwAVQueueFillAndUse follows the head: no queue before epoch 15;
// Push shifts rows down by B and writes the batch first; Extend prepends
// queue·Wᵀ only once the last row is non-zero; State round-trips.
func TestSwAVQueueFillAndUse(t *testing.T) {
	lock(t)
	cfg := SwAVQueueConfig{BatchSize: 2, EpochQueueStarts: 15, CropsForAssign: []int{0, 1}, FeatDim: 2, QueueLength: 4, Interval: 1, WorldSize: 1}
	q, err := NewSwAVQueue(cfg, testDevice)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if qt, _ := q.BeforeEpoch(14); qt != nil {
		t.Fatal("queue created before epoch_queue_starts")
	}
	if q.ShouldSave(14) {
		t.Fatal("save without queue")
	}
	qt, err := q.BeforeEpoch(15)
	if err != nil || qt == nil {
		t.Fatalf("no queue at epoch 15: %v", err)
	}
	if d := qt.MustSize(); d[0] != 2 || d[1] != 4 || d[2] != 2 {
		t.Fatalf("queue shape %v", d)
	}
	w := tensor(t, []float32{1, 0, 0, 1, 1, 1}, 3, 2) // 3 prototypes
	out := tensor(t, []float32{9, 9, 9, 8, 8, 8}, 2, 3)
	ext, err := q.Extend(1, out, w)
	if err != nil {
		t.Fatal(err)
	}
	close(t, "unfilled extend", values(t, ext), []float64{9, 9, 9, 8, 8, 8}, 0)
	_ = ext.Drop()
	if err := q.Push(1, tensor(t, []float32{1, 2, 3, 4}, 2, 2)); err != nil {
		t.Fatal(err)
	}
	if err := q.Push(1, tensor(t, []float32{5, 6, 7, 8}, 2, 2)); err != nil {
		t.Fatal(err)
	}
	all := values(t, q.Tensor())
	close(t, "slot 0 untouched", all[:8], make([]float64, 8), 0)
	close(t, "slot 1 newest first", all[8:], []float64{5, 6, 7, 8, 1, 2, 3, 4}, 0)
	if q.UseQueue() {
		t.Fatal("use_queue set before a full slot was read")
	}
	ext, err = q.Extend(1, out, w)
	if err != nil {
		t.Fatal(err)
	}
	// queue rows · Wᵀ: (5,6)→5,6,11; (7,8)→7,8,15; (1,2)→1,2,3; (3,4)→3,4,7.
	close(t, "filled extend", values(t, ext), []float64{5, 6, 11, 7, 8, 15, 1, 2, 3, 3, 4, 7, 9, 9, 9, 8, 8, 8}, 0)
	_ = ext.Drop()
	if !q.UseQueue() {
		t.Fatal("use_queue not set")
	}
	// use_queue is shared: slot 0 (still zero) is now prepended too.
	ext, err = q.Extend(0, out, w)
	if err != nil {
		t.Fatal(err)
	}
	if d := ext.MustSize(); d[0] != 6 {
		t.Fatalf("slot 0 extend has %d rows, want 6 once use_queue is on", d[0])
	}
	_ = ext.Drop()

	st, err := q.State()
	if err != nil {
		t.Fatal(err)
	}
	defer DropState(st)
	q2, _ := NewSwAVQueue(cfg, testDevice)
	defer q2.Close()
	if err := q2.LoadState(st); err != nil {
		t.Fatal(err)
	}
	if qt, _ := q2.BeforeEpoch(0); qt == nil { // a restored queue is used at once
		t.Fatal("restored queue not handed out before epoch_queue_starts")
	}
	close(t, "restored queue", values(t, q2.Tensor()), all, 0)
	if q2.UseQueue() {
		t.Fatal("BeforeEpoch must reset use_queue")
	}
	if !q.ShouldSave(20) {
		t.Fatal("interval 1: save every epoch")
	}
}
