// Package checkpoint reads and writes PyTorch-compatible .pth files (zip + pickle) in pure Go.
package checkpoint
