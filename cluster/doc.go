// Package cluster holds k-means, PIC, Sinkhorn-Knopp, uniform sampling and re-weighting.
package cluster
