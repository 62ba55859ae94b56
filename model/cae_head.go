package model

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/checkpoint"
)

// dalleEncoderURL is where MMSelfSup publishes the tokenizer weights.
const dalleEncoderURL = "https://download.openmmlab.com/mmselfsup/cae/dalle_encoder.pth"

// CAEHeadConfig is MMSelfSup's CAEHead (heads/cae_head.py) plus two
// flowssl keys. tokenizer_path names the DALL-E encoder weights; where
// MMSelfSup only warns when the file is missing and trains against a
// random tokenizer, flowssl stops, unless random_tokenizer says that a
// random tokenizer is meant (tests, smoke runs). tokenizer sizes that
// encoder (DALL-E's own sizes by default; the released weights need them).
type CAEHeadConfig struct {
	TokenizerPath   string         `yaml:"tokenizer_path"`
	Lambd           float64        `yaml:"lambd"`
	RandomTokenizer bool           `yaml:"random_tokenizer"`
	Tokenizer       map[string]any `yaml:"tokenizer"`
	InitCfg         any            `yaml:"init_cfg"`
}

// Validate checks the arguments (the file itself is checked at build).
func (c *CAEHeadConfig) Validate() error {
	if c.TokenizerPath == "" && !c.RandomTokenizer {
		return errNoTokenizer("", "no tokenizer_path given")
	}
	if c.Lambd < 0 {
		return fmt.Errorf("lambd %g must be ≥ 0", c.Lambd)
	}
	if c.InitCfg != nil {
		return fmt.Errorf("init_cfg: not supported (the tokenizer is loaded from tokenizer_path)")
	}
	return nil
}

// errNoTokenizer says what to provide when the DALL-E weights are absent.
func errNoTokenizer(path, why string) error {
	return fmt.Errorf("tokenizer_path %q: %s. CAE predicts the ids of the DALL-E tokenizer, whose encoder weights must be given: "+
		"download %s and set model.head.tokenizer_path (or model.target_generator.init_cfg.checkpoint) to the file; "+
		"model.head.random_tokenizer: true trains against a randomly initialised tokenizer instead (smoke runs only)",
		path, why, dalleEncoderURL)
}

// CAEHead is CAE's loss (algorithms.md §17) with the DALL-E tokenizer as
// target generator (keys head.encoder.*, frozen): target ids are the
// argmax of the tokenizer's logits on the second image, taken at the
// masked patches; loss = CE(logits, ids) + lambd·MSE(latent_pred,
// sg(latent_target)), reported as loss, main and align.
type CAEHead struct {
	cfg     CAEHeadConfig
	encoder *dalleEncoder
	note    string
}

// NewCAEHead builds the head under p and loads the tokenizer weights.
func NewCAEHead(p *nn.Path, c CAEHeadConfig) (*CAEHead, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	dc := DefaultDALLEConfig()
	if c.Tokenizer != nil {
		if err := decodeConfig(pathName(p, "tokenizer"), c.Tokenizer, &dc); err != nil {
			return nil, err
		}
	}
	enc, err := newDALLEEncoder(p.Sub("encoder"), dc)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	h := &CAEHead{cfg: c, encoder: enc}
	if c.RandomTokenizer {
		h.note = "model.head: CAE trains against a randomly initialised DALL-E tokenizer (random_tokenizer: true)"
		return h, nil
	}
	if h.note, err = loadTokenizer(p, c.TokenizerPath); err != nil {
		return nil, err
	}
	return h, nil
}

// loadTokenizer loads a DALL-E encoder state dict (keys blocks.*, as
// torch.save(Encoder().state_dict()) writes them; an "encoder." or
// "head.encoder." prefix is accepted) strictly into p's encoder.
func loadTokenizer(p *nn.Path, path string) (string, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "", errNoTokenizer(path, "the file does not exist")
	} else if err != nil {
		return "", errNoTokenizer(path, err.Error())
	}
	ck, err := checkpoint.Load(path)
	if err != nil {
		return "", fmt.Errorf("tokenizer_path %s: %w", path, err)
	}
	named, err := NamedFromCheckpoint(ck.StateDict)
	if err != nil {
		return "", fmt.Errorf("tokenizer_path %s: %w", path, err)
	}
	defer DropNamed(named)
	prefix := pathName(p, "encoder") + "."
	for i := range named {
		k := strings.TrimPrefix(strings.TrimPrefix(named[i].Name, "head."), "encoder.")
		named[i].Name = prefix + k
	}
	missing, unexpected, err := LoadStateDict(varStoreOf(p), named, false)
	if err != nil {
		return "", fmt.Errorf("tokenizer_path %s: %w", path, err)
	}
	var miss []string
	for _, k := range missing {
		if strings.HasPrefix(k, prefix) {
			miss = append(miss, k)
		}
	}
	if len(miss) > 0 || len(unexpected) > 0 {
		return "", fmt.Errorf("tokenizer_path %s is not a DALL-E encoder of this size: missing %v, unexpected %v", path, miss, unexpected)
	}
	return fmt.Sprintf("model.head: loaded the DALL-E tokenizer (%d tensors) from %s", len(named), path), nil
}

// HeadType names the registered type.
func (h *CAEHead) HeadType() string { return "CAEHead" }

// Notes says where the tokenizer came from.
func (h *CAEHead) Notes() []string { return []string{h.note} }

// VocabSize is the tokenizer's number of ids.
func (h *CAEHead) VocabSize() int64 { return int64(h.encoder.cfg.VocabSize) }

// Targets is _generate_target: the tokenizer's ids of imgT (N×3×H×W,
// already mapped to 0.8·x + 0.1), N×(H/8·W/8) int64, without gradient.
func (h *CAEHead) Targets(imgT *ts.Tensor) (*ts.Tensor, error) {
	var out *ts.Tensor
	err := WithoutGrad(func() error {
		logits, err := h.encoder.forward(imgT)
		if err != nil {
			return err
		}
		ids, err := logits.Argmax([]int64{1}, false, true) // N×h×w
		if err != nil {
			return err
		}
		out, err = ids.Flatten(1, -1, true)
		return err
	})
	return out, err
}

// Loss is CAEHead.forward: imgT the tokenizer input, logits (N·K)×V in
// masked-patch order, latentPred and latentTarget N×K×D, masked N×L bool.
func (h *CAEHead) Loss(imgT, logits, latentPred, latentTarget, masked *ts.Tensor) (*Losses, error) {
	s := NewScope()
	defer s.Close()
	ids, err := s.TrackErr(h.Targets(imgT))
	if err != nil {
		return nil, fmt.Errorf("CAEHead tokenizer: %w", err)
	}
	if id, md := ids.MustSize(), masked.MustSize(); !equalDims(id, md) {
		return nil, fmt.Errorf("CAEHead: the tokenizer gives %v ids, the mask is %v (second image side = 8 × the patch grid side)", id, md)
	}
	target, err := s.TrackErr(ids.MaskedSelect(masked, false)) // N·K
	if err != nil {
		return nil, err
	}
	if ld, td := logits.MustSize(), target.MustSize(); len(ld) != 2 || ld[0] != td[0] || ld[1] != h.VocabSize() {
		return nil, fmt.Errorf("CAEHead: logits %v for %d masked patches and a vocabulary of %d", ld, td[0], h.VocabSize())
	}
	if !equalDims(latentPred.MustSize(), latentTarget.MustSize()) {
		return nil, fmt.Errorf("CAEHead: latent prediction %v, target %v", latentPred.MustSize(), latentTarget.MustSize())
	}
	main, err := s.TrackErr(crossEntropy(logits, target))
	if err != nil {
		return nil, err
	}
	tgt := s.Track(latentTarget.MustDetach(false))
	mse, err := s.TrackErr(latentPred.MseLoss(tgt, 1, false)) // reduction mean
	if err != nil {
		return nil, err
	}
	align := s.Track(mulScalar(mse, h.cfg.Lambd, false))
	out := NewLosses()
	out.Set("loss", main.MustAdd(align, false))
	out.Set("main", main.MustShallowClone())
	out.Set("align", align.MustShallowClone())
	return out, nil
}

func init() {
	RegisterHead("CAEHead", func(p *nn.Path, m map[string]any) (Head, error) {
		c := CAEHeadConfig{}
		return buildFrom(p, "head", m, &c, func(c *CAEHeadConfig) (Head, error) { return NewCAEHead(p, *c) })
	})
}
