package data

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// imageExtensions are the file name endings MMSelfSup's ImageNet source
// keeps when scanning folders, compared case-insensitively.
var imageExtensions = []string{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif"}

// ImageNetConfig configures an ImageNet-style source (MMSelfSup
// data_sources/imagenet.py).
type ImageNetConfig struct {
	// DataPrefix is the image root (data_prefix).
	DataPrefix string
	// AnnFile, when set, lists "relpath label" lines (ann_file); when empty
	// the class sub-folders of DataPrefix are scanned.
	AnnFile string
	// Classes names the labels; nil means the folder names when scanning
	// and none with an AnnFile.
	Classes  []string
	Decoding Decoding
}

func init() {
	register("ImageNet", fileKeys, parseImageNet, func(c ImageNetConfig) (Source, error) { return NewImageNet(c) })
}

func parseImageNet(p *params) (ImageNetConfig, error) {
	var c ImageNetConfig
	var err error
	if c.DataPrefix, err = p.str("data_prefix", ""); err != nil {
		return c, err
	}
	if c.AnnFile, err = p.str("ann_file", ""); err != nil {
		return c, err
	}
	if c.Classes, err = classesKey(p); err != nil {
		return c, err
	}
	if _, err = p.boolean("test_mode", false); err != nil {
		return c, err
	}
	if c.Decoding, err = parseDecoding(p, "color"); err != nil {
		return c, err
	}
	if err = fileClient(p); err != nil {
		return c, err
	}
	if c.AnnFile == "" && c.DataPrefix == "" {
		return c, p.errf("data_prefix", "required when ann_file is not given")
	}
	return c, nil
}

// NewImageNet scans the class folders of c.DataPrefix, or reads c.AnnFile.
//
// Scanning: sub-folders sorted by name are classes 0..C-1; each is walked
// recursively, directories in sorted path order and files sorted within a
// directory (Python's sorted(os.walk(...))), keeping imageExtensions.
// MMSelfSup stores only folder/basename, which breaks for nested files;
// here the path relative to DataPrefix is kept. A class folder without
// images is an error (MMSelfSup would silently leave the class empty).
//
// AnnFile: every line is split at its last space into a file name and an
// integer label (MMSelfSup's rsplit(' ', 1)); blank lines are skipped, a
// line without a label or with a non-integer label is an error naming the
// file and line.
func NewImageNet(c ImageNetConfig) (*Files, error) {
	f := &Files{prefix: c.DataPrefix, dec: c.Decoding}
	var err error
	if c.AnnFile == "" {
		var folders []string
		folders, err = scanClasses(f, c.DataPrefix)
		if c.Classes == nil {
			f.classes = folders
		}
	} else {
		err = readAnnFile(f, c.AnnFile)
	}
	if err != nil {
		return nil, err
	}
	if c.Classes != nil {
		f.classes = c.Classes
		if err := checkClasses(f.labels, f.classes, "classes"); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func hasImageExt(name string) bool {
	low := strings.ToLower(name)
	for _, e := range imageExtensions {
		if strings.HasSuffix(low, e) {
			return true
		}
	}
	return false
}

func scanClasses(f *Files, root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("scan image folders: %w", err)
	}
	var folders []string
	for _, e := range entries {
		if isDir(root, e) {
			folders = append(folders, e.Name())
		}
	}
	if len(folders) == 0 {
		return nil, fmt.Errorf("scan image folders: %s has no class sub-folders", root)
	}
	sort.Strings(folders)
	for label, folder := range folders {
		names, err := walkImages(root, folder)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("scan image folders: class folder %s has no images (extensions %s)",
				filepath.Join(root, folder), strings.Join(imageExtensions, " "))
		}
		for _, n := range names {
			f.names = append(f.names, n)
			f.labels = append(f.labels, label)
		}
	}
	return folders, nil
}

// isDir follows symbolic links, as os.path.isdir does.
func isDir(root string, e fs.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&fs.ModeSymlink == 0 {
		return false
	}
	st, err := os.Stat(filepath.Join(root, e.Name()))
	return err == nil && st.IsDir()
}

// walkImages lists the images under root/folder as paths relative to root,
// in Python's sorted(os.walk()) order: directories by full path, then the
// files of each directory by name.
func walkImages(root, folder string) ([]string, error) {
	byDir := map[string][]string{}
	var dirs []string
	err := filepath.WalkDir(filepath.Join(root, folder), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
			return nil
		}
		if hasImageExt(d.Name()) {
			byDir[filepath.Dir(path)] = append(byDir[filepath.Dir(path)], d.Name())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan image folders: %w", err)
	}
	sort.Strings(dirs)
	var out []string
	for _, dir := range dirs {
		files := byDir[dir]
		sort.Strings(files)
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return nil, fmt.Errorf("scan image folders: %w", err)
		}
		for _, n := range files {
			out = append(out, filepath.Join(rel, n))
		}
	}
	return out, nil
}

func readAnnFile(f *Files, path string) error {
	lines, err := readLines(path)
	if err != nil {
		return fmt.Errorf("read ann_file: %w", err)
	}
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		cut := strings.LastIndexByte(line, ' ')
		if cut < 0 {
			return fmt.Errorf("%s:%d: %q: want \"filename label\"", path, i+1, line)
		}
		name := strings.TrimSpace(line[:cut])
		label, err := parseLabel(line[cut+1:])
		if err != nil || name == "" {
			return fmt.Errorf("%s:%d: %q: want \"filename label\" with an integer label >= -1", path, i+1, line)
		}
		f.names = append(f.names, name)
		f.labels = append(f.labels, label)
	}
	if len(f.names) == 0 {
		return fmt.Errorf("%s: no samples", path)
	}
	return nil
}

func parseLabel(s string) (int, error) {
	l, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	if l < -1 {
		return 0, fmt.Errorf("label %d < -1", l)
	}
	return l, nil
}
