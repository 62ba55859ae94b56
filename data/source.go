package data

import "github.com/flowssl/flowssl/augment"

// Sample is one item of a Source. Exactly one of Bytes and Image is set.
type Sample struct {
	Index int
	// Label is the class index, or -1 for an unlabelled sample.
	Label int
	// Name identifies the sample in messages: the file path, or the
	// container file and record, e.g. "cifar-10-batches-bin/data_batch_1.bin#17".
	Name string
	// Bytes is the encoded file (folder and list sources); augment decodes
	// it as the source's Decoding says.
	Bytes []byte
	// Image holds raw pixels (CIFAR, MNIST, Shapes). It is the caller's:
	// every Get returns a fresh copy.
	Image *augment.Image
}

// Source is a data source in MMSelfSup's sense: an indexed set of images
// with labels.
type Source interface {
	// Len is the number of samples.
	Len() int
	// Get returns sample i, 0 <= i < Len(). It is safe for concurrent use
	// by many goroutines.
	Get(i int) (Sample, error)
	// Labels returns the label of every sample by index (-1 unlabelled).
	// The slice is shared: callers must not mutate it.
	Labels() []int
	// ClassNames returns the class names by label, or nil when unknown.
	ClassNames() []string
}
