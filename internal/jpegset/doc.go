// Package jpegset writes folders of ImageNet-like JPEGs (about 500×375,
// quality 90, photographic texture, one sub-folder per class) for benchmarks
// and end-to-end tests that must not download ImageNet.
//
// # Sources
//
// Images are crops of photographs found under DefaultSourceDirs — on Debian,
// `apt-get install mate-backgrounds` provides 14 distinct photographs in
// /usr/share/backgrounds/mate — re-encoded at the target size. When no
// photograph is installed (or Options.Procedural is set) each class gets a
// procedural texture instead: multi-octave value noise over a colour
// gradient with soft-edged shapes, which has the broad-band spectrum that
// makes JPEG decoding cost what it costs on photographs.
//
// # Determinism
//
// The output depends only on (Options.Seed, n, the options) and the source
// files: image i draws from its own RNG seeded with (Seed, i), so the first k
// files of a set of n equal those of a set of k.
package jpegset
