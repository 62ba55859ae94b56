package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// gotch v0.7.0's generated bindings leak on every call, and some write
// past their buffer:
//
//   - each call allocates its out-pointer slot with C.malloc(0), which
//     glibc answers with a minimal chunk that is never freed (about 32
//     bytes per op), and multi-output ops (up to five tensors) write
//     their pointers past it;
//   - an in-place op (add_, clamp_max_, …) stores the new C handle libtch
//     returns for `self` and forgets the old one, so the old handle keeps
//     its tensor's storage alive after Drop.
//
// fixGeneratedMemory rewrites the ts package so each slot buffer is sized
// for outSlots pointers and freed when the binding returns, and in-place
// ops free the duplicate handle and keep the one the Tensor already owns
// (both point at the same TensorImpl: ATen's in-place ops return self).
// It returns how many allocations and in-place handles it fixed.
func fixGeneratedMemory(tsDir string) (allocs, inplace int, err error) {
	for _, name := range []string{"tensor-generated.go", "patch.go", "tensor.go"} {
		path := filepath.Join(tsDir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, 0, fmt.Errorf("memfix %s: %w", path, err)
		}
		out, a, ip := rewriteMemorySource(string(b))
		if a == 0 && ip == 0 {
			continue
		}
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			return 0, 0, fmt.Errorf("memfix %s: %w", path, err)
		}
		allocs += a
		inplace += ip
	}
	return allocs, inplace, nil
}

// outSlots covers the largest tuple a generated binding returns (five).
const outSlots = 8

var (
	mallocZeroRe = regexp.MustCompile(`^(\s*)(\w+) := \(\*lib\.Ctensor\)\(unsafe\.Pointer\(C\.malloc\(0\)\)\)\s*$`)
	methodRe     = regexp.MustCompile(`^func\s*\(ts \*Tensor\)\s*(\w+)\(`)
	funcRe       = regexp.MustCompile(`^func\b`)
)

// rewriteMemorySource applies fixGeneratedMemory's rewrite to one file.
func rewriteMemorySource(src string) (out string, allocs, inplace int) {
	lines := strings.Split(src, "\n")
	res := make([]string, 0, len(lines)+len(lines)/8)
	method := ""
	for i, ln := range lines {
		if funcRe.MatchString(ln) {
			method = ""
			if m := methodRe.FindStringSubmatch(ln); m != nil {
				method = m[1]
			}
		}
		if m := mallocZeroRe.FindStringSubmatch(ln); m != nil {
			indent, v := m[1], m[2]
			res = append(res, fmt.Sprintf("%s%s := (*lib.Ctensor)(unsafe.Pointer(C.malloc(C.size_t(%d) * C.size_t(unsafe.Sizeof(uintptr(0))))))", indent, v, outSlots))
			free := fmt.Sprintf("defer C.free(unsafe.Pointer(%s))", v)
			if i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) != free {
				res = append(res, indent+free)
			}
			allocs++
			continue
		}
		if strings.HasSuffix(method, "_") && strings.TrimSpace(ln) == "ts.ctensor = *ptr" {
			indent := ln[:len(ln)-len(strings.TrimLeft(ln, " \t"))]
			res = append(res, indent+"lib.AtFree(*ptr) // the same tensor as ts.ctensor: keep one handle")
			inplace++
			continue
		}
		res = append(res, ln)
	}
	return strings.Join(res, "\n"), allocs, inplace
}
