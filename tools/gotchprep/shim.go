package main

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
)

// The shim is flowssl's C++ beside gotch's: autocast, memory formats and
// CUDA synchronisation, which gotch v0.7.0 lacks or binds only for old
// libtorch. It is compiled with gotch's sources in both link modes.
//
//go:embed shim/flowssl_shim.h shim/flowssl_shim.cpp shim/flowssl_compat.h
var shimFS embed.FS

var shimFiles = []string{"flowssl_shim.h", "flowssl_shim.cpp", "flowssl_compat.h"}

// writeShim copies the shim's sources into a libtch source folder.
func writeShim(dir string) error {
	for _, f := range shimFiles {
		b, err := shimFS.ReadFile("shim/" + f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// shimDigest changes with the shim's sources, so a cached library built
// from older ones is rebuilt.
func shimDigest() string {
	h := sha256.New()
	for _, f := range shimFiles {
		b, _ := shimFS.ReadFile("shim/" + f)
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// torchAPIPatches route gotch's hand-written autocast wrappers through
// flowssl_compat.h, whose calls exist in every libtorch from 1.13 on (the
// CUDA-only at::autocast::is_enabled/set_enabled are gone in newer ones).
var torchAPIPatches = []struct{ old, new string }{
	{"#include<ATen/autocast_mode.h>", "#include<ATen/autocast_mode.h>\n#include \"flowssl_compat.h\""},
	{"at::autocast::is_enabled()", "flowssl_compat_autocast_is_enabled(at::kCUDA)"},
	{"at::autocast::set_enabled(b)", "flowssl_compat_autocast_set_enabled(at::kCUDA, b)"},
}

// PatchTorchAPI applies torchAPIPatches to torch_api.cpp's text. A pattern
// that is absent (another gotch version) is left alone: the compile check
// then says what is wrong.
func PatchTorchAPI(src string) string {
	if strings.Contains(src, "flowssl_compat.h") {
		return src
	}
	for _, p := range torchAPIPatches {
		src = strings.ReplaceAll(src, p.old, p.new)
	}
	return src
}
