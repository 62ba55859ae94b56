package main

import (
	"strings"
	"testing"
)

func TestFixMemorySource(t *testing.T) {
	src := `func(ts *Tensor) Add(other *Tensor, del bool)(retVal *Tensor, err error) { 
  if del { defer ts.MustDrop() }
  ptr := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0)))
  
    lib.AtgAdd(ptr, ts.ctensor, other.ctensor)
  retVal = &Tensor{ctensor: *ptr}
  return retVal, err
} 

func(ts *Tensor) Add_(other *Tensor)(err error) { 
  ptr := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0)))
    lib.AtgAdd_(ptr, ts.ctensor, other.ctensor)
  ts.ctensor = *ptr
  return err
} 

func Lstm(input *Tensor)(retVal0 *Tensor, retVal1 *Tensor, err error) { 
  ctensorPtr0 := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0)))
  ctensorPtr1 := (*lib.Ctensor)(unsafe.Pointer(uintptr(unsafe.Pointer(ctensorPtr0)) + unsafe.Sizeof(ctensorPtr0)))
  ts.ctensor = *ptr
}

func loop() {
	for i := 0; i < n; i++ {
		outputPtr := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0)))
		defer C.free(unsafe.Pointer(outputPtr))
	}
}
 *   ptr := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0))) in a comment
`
	out, allocs, inplace := rewriteMemorySource(src)
	if allocs != 4 || inplace != 1 {
		t.Fatalf("fixed %d allocations and %d in-place handles, want 4 and 1:\n%s", allocs, inplace, out)
	}
	for _, want := range []string{
		"  ptr := (*lib.Ctensor)(unsafe.Pointer(C.malloc(C.size_t(8) * C.size_t(unsafe.Sizeof(uintptr(0))))))\n  defer C.free(unsafe.Pointer(ptr))\n",
		"  ctensorPtr0 := (*lib.Ctensor)(unsafe.Pointer(C.malloc(C.size_t(8) * C.size_t(unsafe.Sizeof(uintptr(0))))))\n  defer C.free(unsafe.Pointer(ctensorPtr0))\n",
		"  lib.AtFree(*ptr) // the same tensor as ts.ctensor: keep one handle\n  return err",
		// not a method ending in _: left alone
		"ctensorPtr0)) + unsafe.Sizeof(ctensorPtr0)))\n  ts.ctensor = *ptr\n",
		// an existing free is not doubled
		"unsafe.Sizeof(uintptr(0))))))\n\t\tdefer C.free(unsafe.Pointer(outputPtr))\n\t}",
		// comments keep their text
		" *   ptr := (*lib.Ctensor)(unsafe.Pointer(C.malloc(0))) in a comment",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
