// Package data reads training samples (bytes or pixels, label) from folders, lists, CIFAR, MNIST and the built-in shapes set.
//
// Every source implements Source and is built from a config mapping by
// Build, keyed by its type: MMSelfSup's ImageNet, ImageList, CIFAR10 and
// CIFAR100 with MMSelfSup's keys (data_prefix, ann_file, classes,
// test_mode, color_type, channel_order, file_client_args), plus MNIST,
// FashionMNIST and the synthetic Shapes. Each type also has a typed
// constructor (NewImageNet, NewShapes, …).
//
// # Bytes and pixels
//
// Folder and list sources (Files) return the encoded file in Sample.Bytes
// and say through Decoder how augment is to decode it; CIFAR, MNIST and
// Shapes return pixels in Sample.Image with color_type and channel_order
// already applied.
//
// # Ownership and concurrency
//
// Get is safe for concurrent use and returns memory the caller owns (a
// fresh file read or a fresh image). Labels and ClassNames return shared
// slices that callers must not mutate. CIFAR and MNIST keep their files in
// memory; Files reads one file per Get; Shapes draws on demand.
//
// # Errors
//
// Config mistakes name the type and key; file problems name the file, and
// for lists the line. Files only checks at Get time that a listed file
// exists, as MMSelfSup does.
//
// # Determinism
//
// Source order is fixed by the files (folder scans sort as Python's
// sorted(os.walk()) does). A Shapes image depends only on (seed, offset +
// index, size, channels) and is bit-identical on every machine.
package data
