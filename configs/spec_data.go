package configs

import "fmt"

// DataSpec is data (config.md §9.2).
type DataSpec struct {
	SamplesPerGPU     int   `yaml:"samples_per_gpu" cfg:"required"`
	ImgsPerGPU        *int  `yaml:"imgs_per_gpu"` // deprecated alias, wins when set
	WorkersPerGPU     int   `yaml:"workers_per_gpu"`
	DropLast          bool  `yaml:"drop_last"`
	SamplingReplace   bool  `yaml:"sampling_replace"`
	Sampler           *Map  `yaml:"sampler"`
	Shuffle           *bool `yaml:"shuffle"`
	PinMemory         *bool `yaml:"pin_memory"`
	PersistentWorkers *bool `yaml:"persistent_workers"`
	PrefetchFactor    *int  `yaml:"prefetch_factor"`

	Train   *DatasetSpec `yaml:"train"`
	Val     *DatasetSpec `yaml:"val"`
	Test    *DatasetSpec `yaml:"test"`
	Extract *DatasetSpec `yaml:"extract"`

	TrainDataloader *Map `yaml:"train_dataloader"`
	ValDataloader   *Map `yaml:"val_dataloader"`
	TestDataloader  *Map `yaml:"test_dataloader"`
}

// BatchSize is the per-GPU batch: imgs_per_gpu if set, else samples_per_gpu.
func (d *DataSpec) BatchSize() int {
	if d.ImgsPerGPU != nil {
		return *d.ImgsPerGPU
	}
	return d.SamplesPerGPU
}

// Validate implements Validator.
func (d *DataSpec) Validate() error {
	if d.SamplesPerGPU < 1 {
		return Errorf("samples_per_gpu", "must be at least 1, got %d", d.SamplesPerGPU)
	}
	if d.ImgsPerGPU != nil && *d.ImgsPerGPU < 1 {
		return Errorf("imgs_per_gpu", "must be at least 1, got %d", *d.ImgsPerGPU)
	}
	if d.WorkersPerGPU < 0 {
		return Errorf("workers_per_gpu", "must be non-negative, got %d", d.WorkersPerGPU)
	}
	return nil
}

// DatasetSpec is a dataset entry (data.train, data.val, …; components.md §2).
type DatasetSpec struct {
	Type       string          `yaml:"type" cfg:"required"`
	DataSource *DataSourceSpec `yaml:"data_source"`
	Pipeline   []TransformSpec `yaml:"pipeline"`
	// Pipelines and NumViews belong to MultiViewDataset: NumViews[i] views from Pipelines[i].
	Pipelines      [][]TransformSpec `yaml:"pipelines"`
	NumViews       []int             `yaml:"num_views"`
	FormatPipeline []TransformSpec   `yaml:"format_pipeline"` // RelativeLocDataset
	Prefetch       bool              `yaml:"prefetch"`
	// Dataset and Times belong to RepeatDataset.
	Dataset *DatasetSpec `yaml:"dataset"`
	Times   int          `yaml:"times"`
}

// Validate implements Validator.
func (d *DatasetSpec) Validate() error {
	switch d.Type {
	case "MultiViewDataset":
		if len(d.Pipelines) == 0 {
			return Errorf("pipelines", "required by MultiViewDataset")
		}
		if len(d.NumViews) != len(d.Pipelines) {
			return Errorf("num_views", "needs one entry per pipeline: %d views entries for %d pipelines", len(d.NumViews), len(d.Pipelines))
		}
		for i, n := range d.NumViews {
			if n < 1 {
				return Errorf(fmt.Sprintf("num_views.%d", i), "must be at least 1, got %d", n)
			}
		}
	case "SingleViewDataset", "DeepClusterDataset", "RotationPredDataset", "RelativeLocDataset":
		if d.Pipelines != nil || d.NumViews != nil {
			return Errorf("pipelines", "%s takes a single pipeline (pipeline:), not pipelines/num_views", d.Type)
		}
		if d.Type == "RelativeLocDataset" && d.FormatPipeline == nil {
			return Errorf("format_pipeline", "required by RelativeLocDataset")
		}
	case "RepeatDataset":
		if d.Dataset == nil {
			return Errorf("dataset", "required by RepeatDataset")
		}
		if d.Times < 1 {
			return Errorf("times", "must be at least 1, got %d", d.Times)
		}
		return nil
	}
	if d.DataSource == nil {
		return Errorf("data_source", "required key is missing")
	}
	return nil
}

// DataSourceSpec is data_source (components.md §1). Keys beyond the common ones are
// source-specific (Shapes: num_samples, size, seed, offset) and are checked here for the
// sources flowssl ships; others land in Extra for their own package to decode.
type DataSourceSpec struct {
	Type           string `yaml:"type" cfg:"required"`
	DataPrefix     string `yaml:"data_prefix"`
	AnnFile        string `yaml:"ann_file"`
	TestMode       bool   `yaml:"test_mode"`
	ColorType      string `yaml:"color_type"`
	ChannelOrder   string `yaml:"channel_order"`
	Classes        any    `yaml:"classes"`
	FileClientArgs *Map   `yaml:"file_client_args"`

	// Shapes (flowssl's synthetic source; package data documents the keys).
	NumSamples *int `yaml:"num_samples"`
	Size       *int `yaml:"size"`
	Seed       *int `yaml:"seed"`
	Offset     *int `yaml:"offset"`
	Channels   *int `yaml:"channels"`

	Extra *Map `yaml:",inline"`
}

// Validate implements Validator.
func (s *DataSourceSpec) Validate() error {
	if s.Type == "Shapes" {
		if s.NumSamples == nil || *s.NumSamples < 1 {
			return Errorf("num_samples", "Shapes needs a positive num_samples")
		}
		if s.Size != nil && *s.Size < 1 {
			return Errorf("size", "must be positive, got %d", *s.Size)
		}
		if s.Channels != nil && *s.Channels != 1 && *s.Channels != 3 {
			return Errorf("channels", "must be 1 or 3, got %d", *s.Channels)
		}
		if s.Offset != nil && *s.Offset < 0 {
			return Errorf("offset", "must be non-negative, got %d", *s.Offset)
		}
		if s.Extra != nil && s.Extra.Len() > 0 {
			k := s.Extra.Keys()[0]
			return unknownKey(k, k, []string{"type", "num_samples", "size", "seed", "offset", "channels"})
		}
	}
	if s.ColorType != "" {
		if err := oneOf(s.ColorType, "color", "grayscale", "unchanged", "color_ignore_orientation", "grayscale_ignore_orientation"); err != nil {
			return Errorf("color_type", "%v", err)
		}
	}
	if s.ChannelOrder != "" {
		if err := oneOf(s.ChannelOrder, "rgb", "bgr"); err != nil {
			return Errorf("channel_order", "%v", err)
		}
	}
	return nil
}
