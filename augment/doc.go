// Package augment decodes images with libvips and applies MMSelfSup's transforms as pure functions of (image, rng).
package augment
