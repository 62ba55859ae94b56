package actors

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/configs/tree"
	"github.com/flowssl/flowssl/model"
)

// AMP is the runner's mixed precision: autocast around the algorithm's
// forward, loss scaling in the optimizer step (MMSelfSup's
// GradAccumFp16OptimizerHook), and the channels_last memory format.
type AMP struct {
	Precision model.Precision
	// Scaler is nil when gradients need no scaling (fp32, bf16).
	Scaler       *model.GradScaler
	ChannelsLast bool
}

// Enabled reports whether anything differs from a plain fp32 NCHW step.
func (a AMP) Enabled() bool { return a.Precision != model.PrecisionFP32 || a.ChannelsLast }

// NewAMP decides the run's mixed precision from the config's fp16 entry and
// --amp (mode): "" follows the config (fp16 on CUDA; on the CPU the config
// runs in fp32, as torch.cuda.amp does there, with a note), "off" forces
// fp32, "fp16" and "bf16" force that autocast dtype. fp16 always scales the
// loss (the config's loss_scale, else dynamic); bf16 never does. The note,
// if any, is for the log.
func NewAMP(fp16 *configs.FP16Spec, mode string, dev gotch.Device, channelsLast bool) (AMP, string, error) {
	a := AMP{ChannelsLast: channelsLast}
	var note string
	switch mode {
	case "":
		if fp16 == nil {
			break
		}
		if !dev.IsCuda() {
			note = "fp16: mixed precision needs CUDA; training in fp32 on the CPU (torch.cuda.amp disables itself there too; --amp bf16 autocasts on the CPU)"
			break
		}
		a.Precision = model.PrecisionFP16
	case "off", "fp32":
	case "fp16", "bf16":
		p, err := model.ParsePrecision(mode)
		if err != nil {
			return a, "", err
		}
		a.Precision = p
	default:
		return a, "", fmt.Errorf("--amp %q: want off, fp16 or bf16", mode)
	}
	if err := model.CheckAutocast(dev, a.Precision); err != nil {
		return a, "", fmt.Errorf("--amp %s: %w", a.Precision, err)
	}
	if a.Precision == model.PrecisionFP16 {
		var err error
		if fp16 != nil {
			ls := fp16.LossScale
			var args map[string]any
			if ls.Args != nil {
				args, _ = plainMap(ls.Args)
			}
			a.Scaler, err = model.NewScalerFromConfig(ls.Dynamic, ls.Static, args)
		} else {
			a.Scaler = model.NewDynamicScaler()
		}
		if err != nil {
			return a, "", err
		}
	}
	return a, note, nil
}

// plainMap turns a config mapping into Go values.
func plainMap(m *configs.Map) (map[string]any, bool) {
	v, ok := tree.ToPlain(m).(map[string]any)
	return v, ok
}

// ConfigureAMP installs a on the runner: the forward runs under autocast,
// the optimizer hook scales the loss and skips overflowing steps, the
// checkpoint meta carries the scaler state as fp16.loss_scaler (where
// MMSelfSup keeps it), and with ChannelsLast the parameters are re-laid
// NHWC before the first step and every batch view is copied NHWC.
func (r *Runner) ConfigureAMP(a AMP) {
	r.AMP = a
	if a.Scaler != nil && r.Meta != nil {
		meta := r.Meta
		r.Meta = func(epoch, iter int) *checkpoint.Dict {
			m := meta(epoch, iter)
			fp := checkpoint.NewDict()
			st := checkpoint.NewDict()
			for k, v := range a.Scaler.State() {
				st.Set(k, v)
			}
			fp.Set("loss_scaler", st)
			m.Set("fp16", fp)
			return m
		}
	}
	if a.ChannelsLast {
		r.AddHook(&channelsLastHook{r})
	}
}

// restoreAMP reads meta.fp16.loss_scaler from a resumed checkpoint.
func (r *Runner) restoreAMP(meta *checkpoint.Dict) error {
	if r.AMP.Scaler == nil || meta == nil {
		return nil
	}
	fp, err := meta.Dict("fp16")
	if err != nil || fp == nil {
		return nil // written without fp16: keep the fresh scaler
	}
	st, err := fp.Dict("loss_scaler")
	if err != nil || st == nil {
		return nil
	}
	m := map[string]any{}
	for k, v := range st.All() {
		if ks, ok := k.(string); ok {
			m[ks] = v
		}
	}
	if err := r.AMP.Scaler.LoadState(m); err != nil {
		return fmt.Errorf("meta.fp16: %w", err)
	}
	return nil
}

// trainStep runs the algorithm's forward and losses, under autocast when
// mixed precision is on (as mmcv's @auto_fp16 wraps the model's forward).
func (r *Runner) trainStep(in *model.StepInput) (*model.Losses, error) {
	if r.AMP.Precision == model.PrecisionFP32 {
		return r.Algorithm.TrainStep(in)
	}
	var losses *model.Losses
	err := model.WithAutocast(r.Device, r.AMP.Precision, func() error {
		var err error
		losses, err = r.Algorithm.TrainStep(in)
		return err
	})
	return losses, err
}

// toDevice copies one batch tensor to the run's device: from pinned host
// memory with a non_blocking copy on CUDA, NHWC for 4-D views when
// ChannelsLast is on. The result is a new tensor the caller owns.
func (r *Runner) toDevice(t *ts.Tensor) (*ts.Tensor, error) {
	var out *ts.Tensor
	var err error
	if r.Device.IsCuda() {
		out, err = model.ToDeviceAsync(t, r.Device)
	} else {
		out, err = t.ShallowClone()
	}
	if err != nil || !r.AMP.ChannelsLast || out.Dim() != 4 {
		return out, err
	}
	nhwc, err := model.ChannelsLast(out)
	out.MustDrop()
	return nhwc, err
}

// scaledBackward is the optimizer hook's backward: of the loss times the
// scaler's scale under fp16, of the loss itself otherwise.
func (r *Runner) scaledBackward(total *ts.Tensor) error {
	backward := (*ts.Tensor).Backward
	if r.SyncBN != nil {
		backward = r.SyncBN.Backward
	}
	if r.AMP.Scaler == nil {
		return backward(total)
	}
	scaled, err := r.AMP.Scaler.ScaleLoss(total)
	if err != nil {
		return err
	}
	defer scaled.MustDrop()
	return backward(scaled)
}

// unscaleGrads divides the gradients by the loss scale before clipping
// (GradScaler.unscale_); params are those that get a step.
func (r *Runner) unscaleGrads(params []model.Param) error {
	if r.AMP.Scaler == nil {
		return nil
	}
	_, err := r.AMP.Scaler.Unscale(params)
	return err
}

// optimizerStep steps unless the fp16 gradients overflowed, then updates
// the loss scale; it logs the scale as loss_scale.
func (r *Runner) optimizerStep(s *RunState) error {
	if r.AMP.Scaler == nil {
		return r.Optimizer.Step()
	}
	_, err := r.AMP.Scaler.Step(r.Optimizer.Params(), r.Optimizer.Step)
	r.AMP.Scaler.Update()
	if s.Losses != nil {
		s.Losses["loss_scale"] = r.AMP.Scaler.Scale
	}
	return err
}

// channelsLastHook re-lays the parameters NHWC before the first step.
type channelsLastHook struct{ r *Runner }

func (h *channelsLastHook) Name() string  { return "ChannelsLastHook" }
func (h *channelsLastHook) Priority() int { return PriorityHighest }
func (h *channelsLastHook) BeforeRun(*RunState) error {
	return model.ParamsToChannelsLast(model.ParamsOf(h.r.VS))
}
