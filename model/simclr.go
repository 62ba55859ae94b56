package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/internal/torchx"
)

// SimCLR is "A Simple Framework for Contrastive Learning of Visual
// Representations" (Chen et al., 2020), as MMSelfSup 0.9.0's
// mmselfsup/models/algorithms/simclr.py: the two views are interleaved,
// encoded by backbone+neck, L2-normalised, and NT-Xent is taken over the
// 2N×2N similarity matrix without its diagonal (algorithms.md §9).
// One process: the all-gather is the identity.
type SimCLR struct {
	enc  encoder
	head *ContrastiveHead
	coll Collective // multi-node runs: z of every rank (GatherLayer)
}

// SetCollective implements CollectiveUser: on several nodes the NT-Xent
// loss runs over the normalised projections of every rank, gathered with
// MMSelfSup's GatherLayer (this rank's rows keep their gradient), so every
// rank computes the same global loss.
func (m *SimCLR) SetCollective(c Collective) { m.coll = c }

func init() { RegisterAlgorithm("SimCLR", buildSimCLR) }

func buildSimCLR(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head"); err != nil {
		return nil, err
	}
	enc, head, err := buildEncoderAndHead(vs.Root(), cfg, "backbone", "neck")
	if err != nil {
		return nil, err
	}
	ch, ok := head.(*ContrastiveHead)
	if !ok {
		return nil, fmt.Errorf("model.head: SimCLR needs a ContrastiveHead, got %s", head.HeadType())
	}
	return &SimCLR{enc: enc, head: ch}, nil
}

func buildEncoderAndHead(root *nn.Path, cfg map[string]any, bname, nname string) (encoder, Head, error) {
	var enc encoder
	bc, err := subConfig(cfg, "backbone", true)
	if err != nil {
		return enc, nil, err
	}
	nc, err := subConfig(cfg, "neck", true)
	if err != nil {
		return enc, nil, err
	}
	hc, err := subConfig(cfg, "head", true)
	if err != nil {
		return enc, nil, err
	}
	if enc.backbone, err = BuildBackbone(subPath(root, bname), bc); err != nil {
		return enc, nil, err
	}
	if enc.neck, err = BuildNeck(subPath(root, nname), nc); err != nil {
		return enc, nil, err
	}
	head, err := BuildHead(root.Sub("head"), hc)
	return enc, head, err
}

// subPath follows a dotted module path ("encoder_q.0").
func subPath(p *nn.Path, dotted string) *nn.Path {
	start := 0
	for i := 0; i <= len(dotted); i++ {
		if i == len(dotted) || dotted[i] == '.' {
			p = p.Sub(dotted[start:i])
			start = i + 1
		}
	}
	return p
}

// Type names the algorithm.
func (m *SimCLR) Type() string { return "SimCLR" }

// Features is the pooled backbone output.
func (m *SimCLR) Features(x *ts.Tensor) (*ts.Tensor, error) { return pooledFeatures(m.enc.backbone, x) }

// TrainStep computes NT-Xent for views [v1, v2].
func (m *SimCLR) TrainStep(in *StepInput) (*Losses, error) {
	if len(in.Views) != 2 {
		return nil, fmt.Errorf("SimCLR: %d views, want 2", len(in.Views))
	}
	s := NewScope()
	defer s.Close()
	v1 := in.Views[0]
	dims, err := v1.Size()
	if err != nil {
		return nil, err
	}
	n := dims[0]
	// [x0v1, x0v2, x1v1, x1v2, ...]: 2N images.
	x, err := s.TrackErr(ts.Stack([]ts.Tensor{*in.Views[0], *in.Views[1]}, 1))
	if err != nil {
		return nil, fmt.Errorf("SimCLR views: %w", err)
	}
	x, err = s.TrackErr(x.Reshape(append([]int64{2 * n}, dims[1:]...), false))
	if err != nil {
		return nil, err
	}
	z, err := m.enc.forward(s, x, true) // 2N×D
	if err != nil {
		return nil, err
	}
	z, err = l2normalize(s, z, 1, 1e-10, false) // z / (||z|| + 1e-10)
	if err != nil {
		return nil, err
	}
	if multi(m.coll) {
		if z, err = GatherLayer(s, m.coll, z); err != nil {
			return nil, fmt.Errorf("SimCLR: %w", err)
		}
		n *= int64(m.coll.World())
	}
	zt, err := s.TrackErr(z.Transpose(0, 1, false))
	if err != nil {
		return nil, err
	}
	sim, err := s.TrackErr(z.Mm(zt, false)) // 2N×2N
	if err != nil {
		return nil, err
	}
	posIdx, negIdx := simclrIndices(int(n))
	pi, err := s.TrackErr(torchx.FromInt64s(posIdx, 2*n, 1))
	if err != nil {
		return nil, err
	}
	ni, err := s.TrackErr(torchx.FromInt64s(negIdx, 2*n, 2*n-2))
	if err != nil {
		return nil, err
	}
	dev := sim.MustDevice()
	if dev != gotch.CPU {
		if pi, err = s.TrackErr(pi.To(dev, false)); err != nil {
			return nil, err
		}
		if ni, err = s.TrackErr(ni.To(dev, false)); err != nil {
			return nil, err
		}
	}
	pos, err := s.TrackErr(sim.Gather(1, pi, false, false)) // 2N×1
	if err != nil {
		return nil, err
	}
	neg, err := s.TrackErr(sim.Gather(1, ni, false, false)) // 2N×(2N−2)
	if err != nil {
		return nil, err
	}
	return m.head.Loss(pos, neg)
}

// simclrIndices gives, for each of the 2N rows of the interleaved batch,
// the column of its positive partner and the columns of its 2N−2
// negatives in their original order (the diagonal and the partner
// removed). Dropping the diagonal first, as MMSelfSup does, then taking
// column 2⌊i/2⌋ as the positive selects the same entries.
func simclrIndices(n int) (pos, neg []int64) {
	m := 2 * n
	pos = make([]int64, m)
	neg = make([]int64, 0, m*(m-2))
	for i := 0; i < m; i++ {
		partner := i ^ 1
		pos[i] = int64(partner)
		for j := 0; j < m; j++ {
			if j != i && j != partner {
				neg = append(neg, int64(j))
			}
		}
	}
	return pos, neg
}
