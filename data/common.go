package data

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// fileClient reads file_client_args, a BaseDataSource key every MMSelfSup
// source accepts; only the disk backend exists here.
func fileClient(p *params) error {
	v, ok := p.get("file_client_args")
	if !ok {
		return nil
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return p.errf("file_client_args", "want a mapping, got %T %v", v, v)
	}
	for k, e := range m {
		if k != "backend" {
			return p.errf("file_client_args", "unknown entry %q (only backend: disk is supported)", k)
		}
		if e != "disk" {
			return p.errf("file_client_args", "backend %v: only \"disk\" is supported", e)
		}
	}
	return nil
}

// classesKey reads MMSelfSup's classes: a list of names, or a file with one
// name per line (mmcv.list_from_file: lines right-stripped of the newline,
// kept as they are otherwise).
func classesKey(p *params) ([]string, error) {
	v, ok := p.get("classes")
	if !ok {
		return nil, nil
	}
	if path, isStr := v.(string); isStr {
		names, err := readLines(path)
		if err != nil {
			return nil, p.errf("classes", "%v", err)
		}
		if len(names) == 0 {
			return nil, p.errf("classes", "%s: no class names", path)
		}
		return names, nil
	}
	names, _, err := p.strList("classes")
	return names, err
}

// readLines returns the lines of a text file without line terminators,
// dropping trailing empty lines.
func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		lines = append(lines, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines, nil
}

// checkClasses verifies that every label has a name when names are given.
func checkClasses(labels []int, names []string, what string) error {
	if names == nil {
		return nil
	}
	for i, l := range labels {
		if l >= len(names) {
			return fmt.Errorf("%s: sample %d has label %d but only %d class names are given", what, i, l, len(names))
		}
	}
	return nil
}
