// Package augment decodes images with libvips and applies MMSelfSup's transforms as pure functions of (image, rng).
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
// Decoding goes through a small cgo helper (vips_decode.c): one lazy
// pipeline vips_image_new_from_buffer → vips_autorot → vips_extract_area →
// 8-bit conversion → vips_resize, streamed by vips_sink_disc straight into
// the Go-allocated Image, with no re-encoding and no intermediate copy.
// Settings, all made once at package init:
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
//     are refused; BMP files therefore fail with ErrBadImage.
//   - Access: sequential (strip by strip) unless the EXIF orientation needs
//     the bottom rows first; fail_on=truncated, so truncated data is an
//     error while libjpeg's recoverable warnings are not (as under PIL);
//     JPEG and PNG files are also checked for their end marker, so a
//     truncated file fails for every crop, not just crops near its bottom.
//   - JPEG shrink-on-load for DecodeCrop when the crop is at least 4× the
//     output (fs_shrink explains the threshold and the accuracy it buys).
//   - libvips' warnings are not printed: failures come back as errors with
//     the failing step and libvips' message. libvips' error buffer is
//     global; each call copies and clears it where it fails and drains it
//     where it succeeds, so messages rarely mix under concurrency, and the
//     step named in the error is exact regardless.
//   - Memory: set MALLOC_ARENA_MAX=2 in the environment before the process
//     starts (RecommendedEnv and MissingEnv list it for cmd/flowssl, which
//     re-executes itself with the missing entries or documents them), or
//     glibc's per-thread arenas keep freed decode buffers resident.
package augment
