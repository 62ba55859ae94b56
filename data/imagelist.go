package data

import (
	"fmt"
	"strings"
)

// ImageListConfig configures an ImageList source (MMSelfSup
// data_sources/image_list.py).
type ImageListConfig struct {
	// DataPrefix is joined before every listed path (data_prefix).
	DataPrefix string
	// AnnFiles are read in order and concatenated (ann_file: one or a list).
	AnnFiles []string
	Classes  []string
	Decoding Decoding
}

func init() {
	register("ImageList", fileKeys, parseImageList, func(c ImageListConfig) (Source, error) { return NewImageList(c) })
}

func parseImageList(p *params) (ImageListConfig, error) {
	var c ImageListConfig
	var err error
	if c.DataPrefix, err = p.str("data_prefix", ""); err != nil {
		return c, err
	}
	var ok bool
	if c.AnnFiles, ok, err = p.strList("ann_file"); err != nil {
		return c, err
	}
	if !ok || len(c.AnnFiles) == 0 {
		return c, p.errf("ann_file", "required: a list file or a list of them")
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
	return c, fileClient(p)
}

// NewImageList reads the list files. As in MMSelfSup, a file whose first
// line has exactly two whitespace-separated fields is labelled ("path
// label" on every line); otherwise every line is a path alone with label
// -1. Unlike MMSelfSup, which silently takes the first field, a line whose
// field count disagrees with the first line's is an error naming the file
// and line; blank lines are skipped.
func NewImageList(c ImageListConfig) (*Files, error) {
	f := &Files{prefix: c.DataPrefix, dec: c.Decoding, classes: c.Classes}
	for _, path := range c.AnnFiles {
		if err := readImageList(f, path); err != nil {
			return nil, err
		}
	}
	if err := checkClasses(f.labels, f.classes, "classes"); err != nil {
		return nil, err
	}
	return f, nil
}

func readImageList(f *Files, path string) error {
	lines, err := readLines(path)
	if err != nil {
		return fmt.Errorf("read ann_file: %w", err)
	}
	labelled, first := false, true
	n := 0
	for i, line := range lines {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if first {
			labelled, first = len(fields) == 2, false
		}
		switch {
		case len(fields) > 2:
			return fmt.Errorf("%s:%d: %q: want \"path\" or \"path label\"", path, i+1, line)
		case labelled && len(fields) == 2:
			label, err := parseLabel(fields[1])
			if err != nil {
				return fmt.Errorf("%s:%d: %q: bad label: want an integer >= -1", path, i+1, line)
			}
			f.names = append(f.names, fields[0])
			f.labels = append(f.labels, label)
		case !labelled && len(fields) == 1:
			f.names = append(f.names, fields[0])
			f.labels = append(f.labels, -1)
		case labelled:
			return fmt.Errorf("%s:%d: %q: want \"path label\" (the first line has a label)", path, i+1, line)
		default:
			return fmt.Errorf("%s:%d: %q: want a path alone (the first line has no label)", path, i+1, line)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s: no samples", path)
	}
	return nil
}
