package model

import (
	"math"
	"testing"
)

// mocov1Cfg is _base_/models/mocov1.py scaled down: MoCo with a LinearNeck
// and T = 0.07 (no MoCo v1 code of its own: MoCo + LinearNeck).
func mocov1Cfg() map[string]any {
	return map[string]any{
		"type": "MoCo", "queue_len": 16, "feat_dim": 8, "momentum": 0.999, "shuffle_bn_groups": 1,
		"backbone": tinyResNet(),
		"neck":     map[string]any{"type": "LinearNeck", "in_channels": 512, "out_channels": 8, "with_avg_pool": true},
		"head":     map[string]any{"type": "ContrastiveHead", "temperature": 0.07},
	}
}

// The loss is InfoNCE over [⟨q,k⟩, q·queue]/0.07 with q from the query
// encoder, k from the key encoder after this step's EMA, and the queue as
// it was before the step; the keys then occupy the first queue columns.
func TestMoCoV1BuildsAndSteps(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(40)
		a, vs := algoBuild(t, mocov1Cfg())
		m := a.(*MoCo)
		checkKeyLayout(t, algoKeys(vs), []string{"encoder_q", "encoder_k", "backbone", "neck", "head", "queue", "queue_ptr"},
			map[string]string{"backbone": "encoder_q.0", "neck": "encoder_q.1", "encoder_k.0": "encoder_q.0", "encoder_k.1": "encoder_q.1"},
			[]string{"queue", "queue_ptr", "encoder_q.1.fc.weight", "encoder_q.1.fc.bias", "encoder_k.1.fc.weight", "neck.fc.bias", "backbone.conv1.weight"},
			nil)
		v := algoImages(2, 4, 32)
		defer algoDropAll(v)
		queue0 := f64s(m.queue) // 8×16
		got := stepValues(t, a, &StepInput{Views: v})["loss"]
		s := NewScope()
		defer s.Close()
		var q, k []float64
		if err := WithoutGrad(func() error {
			qt, err := m.q.forward(s, v[0], true)
			if err != nil {
				return err
			}
			kt, err := m.k.forward(s, v[1], true)
			if err != nil {
				return err
			}
			q, k = normRows(f64s(qt), 4), normRows(f64s(kt), 4)
			return nil
		}); err != nil {
			return err
		}
		const d, K = 8, 16
		var want float64
		for i := 0; i < 4; i++ {
			logits := make([]float64, 1+K)
			for c := 0; c < d; c++ {
				logits[0] += q[i*d+c] * k[i*d+c]
				for j := 0; j < K; j++ {
					logits[1+j] += q[i*d+c] * queue0[c*K+j]
				}
			}
			for j := range logits {
				logits[j] /= 0.07
			}
			want += ceRow(logits, 0) / 4
		}
		if math.Abs(got-want) > 1e-4 {
			t.Fatalf("MoCo v1 loss %.6f, InfoNCE from q, k and the queue %.6f", got, want)
		}
		queue1 := f64s(m.queue)
		for i := 0; i < 4; i++ {
			for c := 0; c < d; c++ {
				if math.Abs(queue1[c*K+i]-k[i*d+c]) > 1e-5 {
					t.Fatalf("queue column %d is not key %d", i, i)
				}
			}
		}
		if p := m.queuePtr.Int64Values()[0]; p != 4 {
			t.Fatalf("queue_ptr %d after one batch of 4", p)
		}
		return nil
	})
}
