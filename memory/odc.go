package memory

import (
	"fmt"

	"github.com/flowssl/flowssl/cluster"
	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// ODCMemoryConfig is MMSelfSup's ODCMemory(length, feat_dim, momentum,
// num_classes, min_cluster) (models/memories/odc_memory.py).
type ODCMemoryConfig struct {
	Length     int     `yaml:"length"`
	FeatDim    int     `yaml:"feat_dim"`
	Momentum   float64 `yaml:"momentum"`
	NumClasses int     `yaml:"num_classes"`
	MinCluster int     `yaml:"min_cluster"`
}

// Validate checks the sizes.
func (c ODCMemoryConfig) Validate() error {
	switch {
	case c.Length < 1 || c.FeatDim < 1:
		return fmt.Errorf("memory: ODCMemory length %d and feat_dim %d must be ≥ 1", c.Length, c.FeatDim)
	case c.NumClasses < 2 || c.NumClasses > c.Length:
		return fmt.Errorf("memory: ODCMemory num_classes %d must be in [2, length %d]", c.NumClasses, c.Length)
	case c.Momentum < 0 || c.Momentum > 1:
		return fmt.Errorf("memory: ODCMemory momentum %g outside [0, 1]", c.Momentum)
	case c.MinCluster < 0:
		return fmt.Errorf("memory: ODCMemory min_cluster %d must be ≥ 0", c.MinCluster)
	}
	return nil
}

// ODCMemory is ODC's samples memory (a normalised feature and a pseudo-label
// per dataset sample) and centroids memory (components.md §5.2). All three
// tensors live on one device (MMSelfSup keeps the feature bank on the CPU of
// rank 0 and the centroids on GPU; on one process that split buys nothing).
type ODCMemory struct {
	cfg         ODCMemoryConfig
	device      gotch.Device
	features    *ts.Tensor // Length×FeatDim float32, rows x/(‖x‖+1e-10)
	labels      *ts.Tensor // Length int64
	centroids   *ts.Tensor // NumClasses×FeatDim float32
	initialized bool
}

// NewODCMemory allocates zeroed state on device; InitMemory (or LoadState)
// must run before the updates.
func NewODCMemory(cfg ODCMemoryConfig, device gotch.Device) (*ODCMemory, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &ODCMemory{cfg: cfg, device: device}
	var err error
	l, c, d := int64(cfg.Length), int64(cfg.NumClasses), int64(cfg.FeatDim)
	if m.features, err = ts.Zeros([]int64{l, d}, gotch.Float, device); err == nil {
		if m.labels, err = ts.Zeros([]int64{l}, gotch.Int64, device); err == nil {
			m.centroids, err = ts.Zeros([]int64{c, d}, gotch.Float, device)
		}
	}
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("memory: ODCMemory: %w", err)
	}
	return m, nil
}

// Initialized reports whether InitMemory or LoadState has run.
func (m *ODCMemory) Initialized() bool { return m.initialized }

// Features is the live feature bank (Length×FeatDim float32; borrowed,
// valid until Close, do not modify).
func (m *ODCMemory) Features() *ts.Tensor { return m.features }

// LabelsTensor is the live label bank (Length int64; borrowed).
func (m *ODCMemory) LabelsTensor() *ts.Tensor { return m.labels }

// Centroids is the live centroids memory (NumClasses×FeatDim; borrowed).
func (m *ODCMemory) Centroids() *ts.Tensor { return m.centroids }

// InitMemory is init_memory(features, labels) after DeepClusterHook's
// clustering: label bank = labels (every class must be non-empty);
// feature bank = features/(‖features‖ + 1e-10); centroids = class means.
func (m *ODCMemory) InitMemory(feat *ts.Tensor, labels []int64) error {
	err := torchx.WithoutGrad(func() error {
		return torchx.Run(func(s *torchx.Scope) error {
			if len(labels) != m.cfg.Length {
				return fmt.Errorf("%d labels for %d samples", len(labels), m.cfg.Length)
			}
			h, err := cluster.Histogram(labels, m.cfg.NumClasses)
			if err != nil {
				return err
			}
			if e := cluster.SmallClusters(h, 1); e.Any() {
				c, _ := e.NextSet(0)
				return fmt.Errorf("%d empty clusters (first %d): every class needs a member", e.Count(), c)
			}
			feat := onDevice(s, feat, m.cfg.Length, m.cfg.FeatDim, m.device)
			lt := s.T(torchx.FromInt64sOn(labels, m.device, int64(len(labels))))
			s.Check(torchx.Copy(m.labels, lt))
			s.Check(torchx.Copy(m.features, normalize(s, s.T(feat.Detach(false)), 1e-10)))
			m.initialized = true
			return m.updateAll(s)
		})
	})
	if err != nil {
		return fmt.Errorf("memory: ODC init_memory: %w", err)
	}
	return nil
}

// UpdateSamples is update_samples_memory(ind, feature), run every step
// without gradient: f = feat/(‖feat‖+1e-10); new = (1−m)·bank[idx] + m·f,
// bank[idx] = new/(‖new‖+1e-10); each sample's label becomes
// argmax_c ⟨centroid_c, new⟩ (centroids not normalised). It returns the
// fraction of rows whose label changed. Duplicate indices: last row wins.
func (m *ODCMemory) UpdateSamples(idx []int64, feat *ts.Tensor) (float64, error) {
	var ratio float64
	err := torchx.WithoutGrad(func() error {
		return torchx.Run(func(s *torchx.Scope) error {
			if !m.initialized {
				return fmt.Errorf("memory not initialised (InitMemory or LoadState first)")
			}
			if err := checkIndices(idx, m.cfg.Length); err != nil {
				return err
			}
			feat := onDevice(s, feat, len(idx), m.cfg.FeatDim, m.device)
			f := normalize(s, s.T(feat.Detach(false)), 1e-10)
			it := s.T(torchx.FromInt64sOn(idx, m.device, int64(len(idx))))
			old := s.T(m.features.IndexSelect(0, it, false))
			mix := s.T(s.T(old.MulScalar(s.Float(1-m.cfg.Momentum), false)).Add(s.T(f.MulScalar(s.Float(m.cfg.Momentum), false)), false))
			fn := normalize(s, mix, 1e-10)
			s.Check(writeRows(s, m.features, idx, fn, m.device))
			sim := s.T(m.centroids.Mm(s.T(fn.T(false)), false)) // C×B
			newl := s.T(sim.Argmax([]int64{0}, false, false))
			oldl := s.T(m.labels.IndexSelect(0, it, false))
			changed := s.T(s.T(newl.NeTensor(oldl, false)).Totype(gotch.Double, false))
			ratio = s.Scalar(s.T(changed.Mean(gotch.Double, false)))
			return writeRows(s, m.labels, idx, newl, m.device)
		})
	})
	if err != nil {
		return 0, fmt.Errorf("memory: ODC update_samples_memory: %w", err)
	}
	return ratio, nil
}

// Labels returns the pseudo-labels of idx (int64 on the memory's device,
// caller owns): the classification targets of ODC's forward.
func (m *ODCMemory) Labels(idx []int64) (*ts.Tensor, error) {
	var out *ts.Tensor
	err := torchx.Run(func(s *torchx.Scope) error {
		if err := checkIndices(idx, m.cfg.Length); err != nil {
			return err
		}
		it := s.T(torchx.FromInt64sOn(idx, m.device, int64(len(idx))))
		out = s.Keep(s.T(m.labels.IndexSelect(0, it, false)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("memory: ODC labels: %w", err)
	}
	return out, nil
}

// LabelBank downloads the whole label bank (ODCHook saves it as
// cluster_epoch_{n}.npy every 10 epochs).
func (m *ODCMemory) LabelBank() ([]int64, error) { return torchx.Int64s(m.labels) }

// Histogram is the size of each class in the label bank.
func (m *ODCMemory) Histogram() ([]int64, error) {
	var h []int64
	err := torchx.Run(func(s *torchx.Scope) error {
		h = histogram(s, m.labels, m.cfg.NumClasses)
		return nil
	})
	return h, err
}

// Reweight is ODC's set_reweight from the label bank: class weights
// (1/(count+1e-10))^pow normalised to sum 1, for the weighted CE.
func (m *ODCMemory) Reweight(pow float64) ([]float32, error) {
	h, err := m.Histogram()
	if err != nil {
		return nil, fmt.Errorf("memory: ODC reweight: %w", err)
	}
	return cluster.Reweight(h, pow), nil
}

// Stats is ODCHook's evaluate(): empty, smallest and largest class sizes.
func (m *ODCMemory) Stats() (cluster.Stats, error) {
	h, err := m.Histogram()
	if err != nil {
		return cluster.Stats{}, fmt.Errorf("memory: ODC stats: %w", err)
	}
	return cluster.SizeStats(h), nil
}

// UpdateCentroids is update_centroids_memory(cinds): with cinds nil, every
// non-empty class's centroid becomes the mean of its bank rows and empty
// classes keep theirs; otherwise only the listed classes are recomputed
// (an empty listed class keeps its centroid; MMSelfSup would write NaN).
func (m *ODCMemory) UpdateCentroids(cinds []int) error {
	err := torchx.WithoutGrad(func() error {
		return torchx.Run(func(s *torchx.Scope) error {
			if !m.initialized {
				return fmt.Errorf("memory not initialised")
			}
			if cinds == nil {
				return m.updateAll(s)
			}
			return m.updateSome(s, cinds)
		})
	})
	if err != nil {
		return fmt.Errorf("memory: ODC update_centroids_memory: %w", err)
	}
	return nil
}

// classMeans returns per-class sums divided by max(count, 1) and a C×1
// mask of non-empty classes.
func (m *ODCMemory) classMeans(s *torchx.Scope) (mean, nonEmpty *ts.Tensor) {
	sums := s.T(s.T(m.centroids.ZerosLike(false)).IndexAdd(0, m.labels, m.features, false))
	cnt := bincount(s, m.labels, m.cfg.NumClasses)
	den := s.T(s.T(s.T(cnt.Totype(gotch.Float, false)).ClampMin(s.Float(1), false)).Unsqueeze(1, false))
	mean = s.T(sums.Div(den, false))
	nonEmpty = s.T(s.T(cnt.Gt(s.Int(0), false)).Unsqueeze(1, false))
	return mean, nonEmpty
}

func (m *ODCMemory) updateAll(s *torchx.Scope) error {
	mean, nonEmpty := m.classMeans(s)
	return torchx.Copy(m.centroids, s.T(mean.WhereSelf(nonEmpty, m.centroids, false)))
}

func (m *ODCMemory) updateSome(s *torchx.Scope, cinds []int) error {
	ids := make([]int64, len(cinds))
	for i, c := range cinds {
		if c < 0 || c >= m.cfg.NumClasses {
			return fmt.Errorf("class %d outside [0, %d)", c, m.cfg.NumClasses)
		}
		ids[i] = int64(c)
	}
	mean, nonEmpty := m.classMeans(s)
	it := s.T(torchx.FromInt64sOn(ids, m.device, int64(len(ids))))
	sel := s.T(s.T(mean.IndexSelect(0, it, false)).WhereSelf(s.T(nonEmpty.IndexSelect(0, it, false)), s.T(m.centroids.IndexSelect(0, it, false)), false))
	return m.centroids.IndexCopy_(0, it, sel)
}

func bincount(s *torchx.Scope, labels *ts.Tensor, k int) *ts.Tensor {
	none := torchx.Undefined()
	defer none.Drop()
	return s.T(labels.Bincount(none, int64(k), false))
}

func histogram(s *torchx.Scope, labels *ts.Tensor, k int) []int64 {
	return s.Int64s(bincount(s, labels, k))
}

// State returns copies of "feature_bank", "label_bank" and "centroids"
// (MMSelfSup's attribute names) for a checkpoint; the caller owns them
// (DropState).
func (m *ODCMemory) State() (map[string]*ts.Tensor, error) {
	return cloneState(map[string]*ts.Tensor{
		"feature_bank": m.features, "label_bank": m.labels, "centroids": m.centroids,
	})
}

// LoadState copies the three tensors of State (same shapes and dtypes, any
// device) into the memory and marks it initialised.
func (m *ODCMemory) LoadState(state map[string]*ts.Tensor) error {
	for _, kv := range []struct {
		k string
		t *ts.Tensor
	}{{"feature_bank", m.features}, {"label_bank", m.labels}, {"centroids", m.centroids}} {
		if err := loadInto(state, kv.k, kv.t); err != nil {
			return fmt.Errorf("memory: ODCMemory: %w", err)
		}
	}
	h, err := m.Histogram()
	if err != nil {
		return err
	}
	if len(h) != m.cfg.NumClasses { // bincount grows past k on a bad label
		return fmt.Errorf("memory: ODCMemory: label_bank has labels ≥ num_classes %d", m.cfg.NumClasses)
	}
	m.initialized = true
	return nil
}

// Close drops the state.
func (m *ODCMemory) Close() {
	for _, t := range []*ts.Tensor{m.features, m.labels, m.centroids} {
		if t != nil {
			_ = t.Drop()
		}
	}
	m.features, m.labels, m.centroids = nil, nil, nil
}
