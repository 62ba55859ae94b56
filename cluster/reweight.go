package cluster

import "math"

// Reweight is the class weighting of ODC and DeepCluster's set_reweight
// (algorithms/odc.py, deepcluster.py): w_c = (1/(count_c + 1e-10))^pow,
// normalised to sum 1, in float32 as numpy computes it from a float32
// histogram. Empty clusters get the largest weight (1e10^pow before
// normalisation), as in MMSelfSup.
func Reweight(counts []int64, pow float64) []float32 {
	w := make([]float32, len(counts))
	var sum float32
	for c, n := range counts {
		inv := float32(1) / (float32(n) + float32(1e-10))
		w[c] = float32(math.Pow(float64(inv), pow))
		sum += w[c]
	}
	for c := range w {
		w[c] /= sum
	}
	return w
}

// ReweightLabels is Reweight of the histogram of labels over k clusters.
func ReweightLabels(labels []int64, k int, pow float64) ([]float32, error) {
	h, err := Histogram(labels, k)
	if err != nil {
		return nil, err
	}
	return Reweight(h, pow), nil
}
