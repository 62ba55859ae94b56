package main

/*
#cgo pkg-config: vips
#include <vips/vips.h>
*/
import "C"

import (
	"fmt"

	"github.com/sugarme/gotch/libtch"
)

func libraryVersions() []string {
	return []string{
		fmt.Sprintf("libtorch %s (%s; gotch v0.7.0, %d of %d bindings adapted)", libtch.PreparedLibtorchVersion, libtch.PreparedFlavour, libtch.PreparedAdapted, libtch.PreparedBindings),
		fmt.Sprintf("libvips %d.%d.%d", int(C.vips_version(0)), int(C.vips_version(1)), int(C.vips_version(2))),
	}
}
