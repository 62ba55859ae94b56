package configs

import (
	"embed"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// all: because MMSelfSup names its fragment folders "_base_", which embed skips by default.
//
//go:embed all:selfsup all:benchmarks
var embedded embed.FS

// FS returns the embedded config tree; paths look like "selfsup/mocov2/….yaml".
func FS() fs.FS { return embedded }

// EmbeddedPrefix is the prefix under which embedded configs are named in messages and
// accepted by Load ("configs/selfsup/…"); it is the tree's location in the repository.
const EmbeddedPrefix = "configs/"

// List returns the names ("configs/…") of every embedded config file, sorted, including
// _base_ fragments.
func List() []string {
	var out []string
	_ = fs.WalkDir(embedded, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if isConfigExt(path.Ext(p)) {
			out = append(out, EmbeddedPrefix+p)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// ListRunnable is List without the _base_ fragments: the configs meant to be run.
func ListRunnable() []string {
	var out []string
	for _, n := range List() {
		if !strings.Contains(n, "/_base_/") {
			out = append(out, n)
		}
	}
	return out
}

func isConfigExt(ext string) bool {
	switch ext {
	case ".py", ".yaml", ".yml", ".json":
		return true
	}
	return false
}
