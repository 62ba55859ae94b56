package configs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// source is one config file: on disk (fsys nil, name an OS path) or in the embedded tree
// (name a slash path inside fsys).
type source struct {
	fsys fs.FS
	name string
}

// display is the name used in messages, Config.Filename and the predefined variables.
func (s source) display() string {
	if s.fsys != nil {
		return EmbeddedPrefix + s.name
	}
	return s.name
}

func (s source) read() ([]byte, error) {
	if s.fsys != nil {
		return fs.ReadFile(s.fsys, s.name)
	}
	return os.ReadFile(s.name)
}

func (s source) ext() string { return path.Ext(s.name) }

// dir is the directory of the file as shown to users (for {{ fileDirname }}).
func (s source) dir() string {
	if s.fsys != nil {
		return path.Dir(s.display())
	}
	return filepath.ToSlash(filepath.Dir(s.name))
}

// relative resolves a _base_ entry against the file's directory, in the same tree.
func (s source) relative(ref string) (source, error) {
	if s.fsys != nil {
		if path.IsAbs(ref) || filepath.IsAbs(ref) {
			return source{}, fmt.Errorf("an embedded config cannot name the absolute base %q", ref)
		}
		p := path.Clean(path.Join(path.Dir(s.name), filepath.ToSlash(ref)))
		if p == ".." || strings.HasPrefix(p, "../") {
			return source{}, fmt.Errorf("base %q leaves the embedded config tree", ref)
		}
		return source{fsys: s.fsys, name: p}, nil
	}
	if filepath.IsAbs(ref) {
		return source{name: filepath.Clean(ref)}, nil
	}
	return source{name: filepath.Join(filepath.Dir(s.name), filepath.FromSlash(ref))}, nil
}

// resolveName finds the file Load was asked for: a path on disk wins; otherwise the name
// is looked up in the embedded tree with or without a leading "configs/".
func resolveName(name string, embeddedFS fs.FS, allowDisk bool) (source, error) {
	if name == "" {
		return source{}, errors.New("empty config name")
	}
	if st, err := os.Stat(name); allowDisk && err == nil && !st.IsDir() {
		abs, err := filepath.Abs(name)
		if err != nil {
			return source{}, fmt.Errorf("resolve %s: %w", name, err)
		}
		return source{name: abs}, nil
	}
	if embeddedFS != nil {
		p := path.Clean(filepath.ToSlash(name))
		p = strings.TrimPrefix(p, "./")
		p = strings.TrimPrefix(p, EmbeddedPrefix)
		if fs.ValidPath(p) {
			if st, err := fs.Stat(embeddedFS, p); err == nil && !st.IsDir() {
				return source{fsys: embeddedFS, name: p}, nil
			}
		}
	}
	return source{}, fmt.Errorf("config %q: %w (neither a file on disk nor in the embedded tree; see configs.List)", name, fs.ErrNotExist)
}
