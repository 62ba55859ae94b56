package actors

import (
	"bytes"
	"path/filepath"
	"testing"
)

func TestEMAMomentum(t *testing.T) {
	for _, c := range []struct {
		m          float64
		warm, iter int
		want       float64
	}{
		{0.0002, 100, 0, 0.0002}, // min(0.0002, 1/100)
		{0.5, 100, 0, 0.01},      // warm-up: (1+0)/(100+0)
		{0.5, 100, 100, 0.5},     // (1+100)/(100+100) > 0.5: m caps it
		{0.9, 100, 100, 101.0 / 200},
		{0.5, 0, 5, 0.5},
	} {
		if got := emaMomentum(c.m, c.warm, c.iter); got != c.want {
			t.Errorf("emaMomentum(%v, %d, %d) = %v, want %v", c.m, c.warm, c.iter, got, c.want)
		}
	}
}

// TestTrainEMAHook: EMAHook's averages are in the checkpoint under mmcv's
// names, move away from the parameters, and a run resumed from epoch 1
// ends bit-identical to an uninterrupted one (mmcv would train epoch 2 on
// the swapped-in averages after a resume).
func TestTrainEMAHook(t *testing.T) {
	cfg := testConfig(t, "simclr", 2, "custom_hooks=[dict(type='EMAHook',momentum=0.1,warm_up=1)]")
	da, db := t.TempDir(), t.TempDir()
	trainOnce(t, cfg, da, 2, "")
	e1 := stateBytes(t, filepath.Join(da, "epoch_1.pth"))
	avg, ok := e1["ema_backbone_conv1_weight"]
	if !ok {
		t.Fatal("checkpoint lacks ema_backbone_conv1_weight")
	}
	if bytes.Equal(avg, e1["backbone.conv1.weight"]) {
		t.Fatal("the average equals the parameter after an epoch of updates")
	}
	trainOnce(t, cfg, db, 1, filepath.Join(da, "epoch_1.pth"))
	sameState(t, stateBytes(t, filepath.Join(da, "epoch_2.pth")), stateBytes(t, filepath.Join(db, "epoch_2.pth")))
}
