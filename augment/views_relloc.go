package augment

import "fmt"

// RelativeLoc is RelativeLocDataset: the pipeline's image (255×255 in the
// reference config) is cut into a 3×3 grid of cells; a random patch of
// (cell − 21) pixels per side is cropped from each cell (64×64 from 85×85)
// and formatted; view k (k = 0 … 7) is patch i concatenated with the
// centre patch along channels, i = 0,1,2,3,5,6,7,8 row-major, label k.
// MMSelfSup reads PIL's (w, h) size as (h, w); the grid here uses the real
// height and width, which is the same for the square images it is given.
type RelativeLoc struct {
	Pipeline, Format *Pipeline
}

const (
	relLocSplit  = 3
	relLocJitter = 21
)

// NewRelativeLoc checks the two pipelines: the first must stop at images,
// the second must make tensors.
func NewRelativeLoc(pipeline, format *Pipeline) (*RelativeLoc, error) {
	if pipeline.HasToTensor() {
		return nil, fmt.Errorf("pipeline: must stop before ToTensor (patches are formatted by format_pipeline)")
	}
	if !format.HasToTensor() {
		return nil, fmt.Errorf("format_pipeline: has no ToTensor")
	}
	return &RelativeLoc{Pipeline: pipeline, Format: format}, nil
}

// NumViews implements ViewMaker.
func (*RelativeLoc) NumViews() int { return 8 }

// Make implements ViewMaker. The pipeline uses view 0's generator, patch
// k's random crop and formatting use view 1+k's.
func (r *RelativeLoc) Make(in Input, seed, epoch uint64, index int) (ViewSet, error) {
	img, err := r.Pipeline.RunImage(in, NewRNG(seed, epoch, uint64(index), 0))
	if err != nil {
		return ViewSet{}, err
	}
	gh, gw := img.H/relLocSplit, img.W/relLocSplit
	ph, pw := gh-relLocJitter, gw-relLocJitter
	if ph <= 0 || pw <= 0 {
		return ViewSet{}, fmt.Errorf("%s: %dx%d image too small for %d×%d patches with jitter %d", in.label(), img.W, img.H, relLocSplit, relLocSplit, relLocJitter)
	}
	crop := &RandomCrop{Height: ph, Width: pw}
	patches := make([]Tensor, relLocSplit*relLocSplit)
	for i := range relLocSplit {
		for j := range relLocSplit {
			k := i*relLocSplit + j
			rng := NewRNG(seed, epoch, uint64(index), uint64(1+k))
			cell := cropPIL(img, i*gh, j*gw, gh, gw)
			p, err := crop.apply(cell, rng, true)
			if err != nil {
				return ViewSet{}, err
			}
			out, err := r.Format.Run(Input{Image: p, Name: in.Name}, rng)
			if err != nil {
				return ViewSet{}, err
			}
			patches[k] = out.Tensor
		}
	}
	vs := ViewSet{}
	centre := patches[4]
	for k := range patches {
		if k == 4 {
			continue
		}
		vs.Views = append(vs.Views, catChannels(&patches[k], &centre))
		vs.Labels = append(vs.Labels, len(vs.Labels))
	}
	return vs, nil
}

// catChannels is torch.cat((a, b), dim=0) for CHW tensors of equal H, W.
func catChannels(a, b *Tensor) Tensor {
	out := Tensor{C: a.C + b.C, H: a.H, W: a.W, Data: make([]float32, 0, len(a.Data)+len(b.Data))}
	out.Data = append(append(out.Data, a.Data...), b.Data...)
	return out
}
