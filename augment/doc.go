// Package augment decodes images (libjpeg-turbo, libvips) and applies MMSelfSup's transforms as pure functions of (image, rng).
//
// # Decoding
//
// Decode, DecodeCrop and Probe take the file's bytes. Everything that is
// wrong with the bytes (unknown format, truncated or corrupt data, a header
// declaring more than DecodeOptions.MaxPixels) returns an error wrapping
// ErrBadImage, never a panic; BadImagePolicy decides per dataset whether
// such a file is skipped (and counted in a BadImageCounter) or fatal. Pixels
// match what torchvision pipelines get from PIL (ImageOps.exif_transpose,
// then convert('RGB')) exactly for JPEG, PNG, WebP, TIFF and GIF, including
// CMYK, palette, alpha and 16-bit RGB files; decode_pil_test.go checks it.
//
// # libvips
//
// JPEG files in the common layout (grey or YCbCr, no EXIF rotation, no
// libjpeg warning) are decoded by libjpeg-turbo directly (jpeg_decode.c),
// the library and settings that both libvips and PIL use, so the pixels are
// the same; on ImageNet-sized files this is about 1.6× faster than going
// through libvips, whose per-image set-up (operation graph, sink thread,
// strip copies) costs a large share of a 0.2-megapixel decode. Everything
// else (other formats, CMYK, rotated or damaged JPEGs, which get libvips'
// verdict) goes through a small cgo helper over libvips (vips_decode.c):
// one lazy pipeline vips_image_new_from_buffer → vips_autorot →
// vips_extract_area → 8-bit conversion, streamed by vips_sink_disc straight
// into the Go-allocated Image, with no re-encoding and no intermediate copy.
// Resampling is never libvips': DecodeCrop resizes with PIL's algorithm
// (transform_resample.go), so it equals Decode → crop → resize exactly.
// libvips settings, all made once at package init:
//
//   - One worker thread per image: bimg's init (which also calls vips_init)
//     sets vips_concurrency_set(1) unless VIPS_CONCURRENCY is set. flowssl
//     decodes many images at once from its Loader/Augment goroutines, so
//     parallelism comes from images and libvips' own pool would only
//     oversubscribe the cores.
//   - No operation cache (vips_cache_set_max(0), _max_mem(0), _max_files(0)):
//     it keys on operation and arguments, a stream of distinct images never
//     hits it, and by default it would hold up to 100 MB of pixels.
//   - Untrusted loaders blocked (vips_block_untrusted_set): dataset files
//     are untrusted input, so ImageMagick, PDF, SVG, JPEG 2000 and JPEG XL
//     are refused. BMP (which Debian's libvips reads only through
//     ImageMagick) and PBM/PGM/PPM (whose libvips loader is marked
//     untrusted) are decoded in Go instead (decode_bmp.go, decode_pnm.go).
//   - Access: sequential (strip by strip) unless the EXIF orientation needs
//     the bottom rows first; fail_on=truncated, so truncated data is an
//     error while libjpeg's recoverable warnings are not (as under PIL);
//     JPEG and PNG files are also checked for their end marker, so a
//     truncated file fails for every crop, not just crops near its bottom.
//   - JPEG shrink-on-load for DecodeCrop when the crop is at least 4× the
//     output (shrinkFactor explains the threshold and the accuracy it
//     buys); libjpeg's scaled IDCT does it on either path.
//   - libvips' warnings are not printed: failures come back as errors with
//     the failing step and libvips' message. libvips' error buffer is
//     global; each call copies and clears it where it fails and drains it
//     where it succeeds, so messages rarely mix under concurrency, and the
//     step named in the error is exact regardless.
//   - Memory: set MALLOC_ARENA_MAX=2 in the environment before the process
//     starts (RecommendedEnv and MissingEnv list it for cmd/flowssl, which
//     re-executes itself with the missing entries or documents them), or
//     glibc's per-thread arenas keep freed decode buffers resident.
//
// # Transforms
//
// Every transform reproduces torchvision 0.14 on PIL 9.4 pixel for pixel
// where they are deterministic (transform_parity_test.go). Their pixel
// loops are C (kernels.c, with AVX2 clones picked at load time), each a
// transcription of a Go port of Pillow's arithmetic kept in
// kernels_ref_test.go, which kernels_test.go matches bit for bit (hue on
// all 2^24 colours). Buffers for decoded images, intermediates and scratch
// come from size-class pools (bufpool.go) and go back when a view is done.
package augment
