package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/sugarme/gotch/ts"
)

// PIC is DeepCluster's power iteration clustering, MMSelfSup's
// PIC(sigma=0.2, nnn=5, alpha=0.001, distribute_singletons=True,
// pca_dim=256) (utils/clustering.py, components.md §6.3). The kNN search
// runs on tensors; the sparse graph work runs on the host.
//
// Deviation: MMSelfSup's PIC only fills images_lists (no labels, so its
// DeepClusterHook cannot use it); here Result.Labels numbers the final
// clusters 0…K−1 in ascending order of their root node.
type PIC struct {
	Sigma                float64 `yaml:"sigma"`
	NNN                  int     `yaml:"nnn"`
	Alpha                float64 `yaml:"alpha"`
	DistributeSingletons bool    `yaml:"distribute_singletons"`
	PCADim               int     `yaml:"pca_dim"`
	// Iters power iterations (200 in DeepCluster, not configurable there).
	Iters int
}

// NewPIC returns MMSelfSup's defaults.
func NewPIC() *PIC {
	return &PIC{Sigma: 0.2, NNN: 5, Alpha: 0.001, DistributeSingletons: true, PCADim: 256, Iters: 200}
}

// Validate checks the settings.
func (p *PIC) Validate() error {
	if p.Sigma <= 0 || p.NNN < 1 || p.Alpha < 0 || p.Alpha > 1 || p.Iters < 1 || (p.PCADim != -1 && p.PCADim < 1) {
		return fmt.Errorf("cluster: PIC sigma %g, nnn %d, alpha %g, iters %d, pca_dim %d out of range",
			p.Sigma, p.NNN, p.Alpha, p.Iters, p.PCADim)
	}
	return nil
}

// Cluster preprocesses feat (N×D float32) and clusters it.
func (p *PIC) Cluster(feat *ts.Tensor, rng *rand.Rand) (*Result, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	x, err := Preprocess(feat, p.PCADim, rng)
	if err != nil {
		return nil, err
	}
	defer x.Drop()
	dims, err := x.Size()
	if err != nil {
		return nil, fmt.Errorf("cluster: PIC: %w", err)
	}
	n := int(dims[0])
	if n < p.NNN+1 {
		return nil, fmt.Errorf("cluster: PIC with nnn %d needs more than %d points", p.NNN, n)
	}
	idx, dist, err := KNN(x, p.NNN+1)
	if err != nil {
		return nil, err
	}
	g := picGraph(idx, dist, n, p.NNN+1, p.Sigma)
	v := g.powerIterate(float32(p.Alpha), p.Iters)
	clust := g.maximaClusters(v)
	return picResult(clust, idx, p.NNN+1, p.DistributeSingletons), nil
}

// csr is a symmetric sparse matrix W = A + Aᵀ in compressed rows, columns
// ascending within a row.
type csr struct {
	ptr  []int
	col  []int32
	data []float32
}

// picGraph is make_adjacencyW + (A + Aᵀ): A_ij = exp(−d_ij/σ²) for the kNN
// of i without its first column (self).
func picGraph(idx []int64, dist []float32, n, kk int, sigma float64) *csr {
	type entry struct {
		i, j int32
		w    float32
	}
	es := make([]entry, 0, 2*n*(kk-1))
	s2 := sigma * sigma
	for i := 0; i < n; i++ {
		for c := 1; c < kk; c++ {
			j := int32(idx[i*kk+c])
			w := float32(math.Exp(-float64(dist[i*kk+c]) / s2))
			es = append(es, entry{int32(i), j, w}, entry{j, int32(i), w})
		}
	}
	sort.Slice(es, func(a, b int) bool {
		if es[a].i != es[b].i {
			return es[a].i < es[b].i
		}
		return es[a].j < es[b].j
	})
	g := &csr{ptr: make([]int, n+1)}
	for k := 0; k < len(es); k++ {
		e := es[k]
		if k > 0 && es[k-1].i == e.i && es[k-1].j == e.j {
			g.data[len(g.data)-1] += e.w // duplicate (i,j): sum, as scipy
			continue
		}
		g.col = append(g.col, e.j)
		g.data = append(g.data, e.w)
		g.ptr[e.i+1] = len(g.col)
	}
	for i := 1; i <= n; i++ { // rows without entries
		g.ptr[i] = max(g.ptr[i], g.ptr[i-1])
	}
	return g
}

// powerIterate is run_pic's loop in float32: v ← α·Wᵀv + (1−α)/n, then
// L1-normalised, from v = 1/n.
func (g *csr) powerIterate(alpha float32, iters int) []float32 {
	n := len(g.ptr) - 1
	v := make([]float32, n)
	for i := range v {
		v[i] = 1 / float32(n)
	}
	next := make([]float32, n)
	for it := 0; it < iters; it++ {
		clear(next)
		for i := 0; i < n; i++ { // W symmetric: Wᵀv = Wv, accumulated by rows
			for l := g.ptr[i]; l < g.ptr[i+1]; l++ {
				next[g.col[l]] += g.data[l] * v[i]
			}
		}
		var sum float32
		for i := range next {
			next[i] = alpha*next[i] + (1-alpha)/float32(n)
			sum += next[i]
		}
		for i := range next {
			next[i] /= sum
		}
		v, next = next, v
	}
	return v
}

// maximaClusters is find_maxima_cluster: each node points to the neighbour
// j maximising W_ij·(v_j − v_i) when positive (first maximum wins), roots
// point to themselves and number clusters in node order, every node joins
// its root's cluster.
func (g *csr) maximaClusters(v []float32) []int {
	n := len(v)
	ptr := make([]int, n)
	for i := 0; i < n; i++ {
		ptr[i] = i
		var best float32
		for l := g.ptr[i]; l < g.ptr[i+1]; l++ {
			j := int(g.col[l])
			if vi := g.data[l] * (v[j] - v[i]); vi > best {
				best, ptr[i] = vi, j
			}
		}
	}
	id := make([]int, n)
	nc := 0
	for i := 0; i < n; i++ {
		id[i] = -1
		if ptr[i] == i {
			id[i] = nc
			nc++
		}
	}
	out := make([]int, n)
	for i := 0; i < n; i++ {
		c := i
		for ptr[c] != c {
			c = ptr[c]
		}
		out[i] = id[c]
	}
	return out
}

// picResult builds images_lists from clust and, if asked, moves each
// singleton to the cluster of its first non-singleton neighbour (decided on
// the lists before any move, as DeepCluster does).
func picResult(clust []int, idx []int64, kk int, distribute bool) *Result {
	n := len(clust)
	size := map[int]int{}
	for _, c := range clust {
		size[c]++
	}
	if distribute {
		target := map[int]int{} // singleton node → neighbour
		for s := 0; s < n; s++ {
			if size[clust[s]] != 1 {
				continue
			}
			for c := 1; c < kk; c++ {
				if nb := int(idx[s*kk+c]); size[clust[nb]] != 1 {
					target[s] = nb
					break
				}
			}
		}
		for s, nb := range target {
			delete(size, clust[s])
			clust[s] = clust[nb]
		}
	}
	ids := make([]int, 0, len(size))
	for c := range size {
		ids = append(ids, c)
	}
	sort.Ints(ids)
	renum := make(map[int]int64, len(ids))
	for i, c := range ids {
		renum[c] = int64(i)
	}
	labels := make([]int64, n)
	for i, c := range clust {
		labels[i] = renum[c]
	}
	return &Result{Labels: labels, K: len(ids)}
}
