package main

import (
	"bufio"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Binding is one generated C++ wrapper in torch_api_generated.cpp.h:
// lines Start..End (1-based, inclusive) hold its signature and body.
type Binding struct {
	Name       string
	ReturnType string
	Start, End int
}

var (
	sigRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_ \*]*?)\s*\b(atg_[A-Za-z0-9_]+)\((.*)\)\s*\{\s*$`)
	// g++ diagnostics look like "path/torch_api_generated.cpp.h:308:29: error: ...";
	// notes and warnings are ignored because only errors stop the build.
	diagRE = regexp.MustCompile(`^(.*?):(\d+):(\d+): (?:fatal )?error: (.*)$`)
)

// ParseBindings finds every generated binding in src.
func ParseBindings(src string) ([]Binding, error) {
	var out []Binding
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		m := sigRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		b := Binding{Name: m[2], ReturnType: strings.TrimSpace(m[1]), Start: i + 1}
		for j := i + 1; j < len(lines); j++ {
			if lines[j] == "}" {
				b.End = j + 1
				break
			}
		}
		if b.End == 0 {
			return nil, fmt.Errorf("binding %s at line %d has no closing brace", b.Name, b.Start)
		}
		out = append(out, b)
		i = b.End - 1
	}
	return out, nil
}

// Diagnostic is one compiler error located in a file.
type Diagnostic struct {
	File    string
	Line    int
	Message string
}

// ParseErrors extracts the errors that g++ reported against files whose
// path ends in fileSuffix.
func ParseErrors(compilerOutput, fileSuffix string) []Diagnostic {
	var out []Diagnostic
	sc := bufio.NewScanner(strings.NewReader(compilerOutput))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		m := diagRE.FindStringSubmatch(sc.Text())
		if m == nil || !strings.HasSuffix(m[1], fileSuffix) {
			continue
		}
		line, err := strconv.Atoi(m[2])
		if err != nil {
			continue
		}
		out = append(out, Diagnostic{File: m[1], Line: line, Message: m[4]})
	}
	return out
}

// FailingBindings maps diagnostics onto the bindings that contain them.
// Errors outside any binding are returned separately: those cannot be
// adapted away and mean the toolchain or headers are wrong.
func FailingBindings(bs []Binding, diags []Diagnostic) (names []string, stray []Diagnostic) {
	seen := map[string]bool{}
	for _, d := range diags {
		i := sort.Search(len(bs), func(i int) bool { return bs[i].End >= d.Line })
		if i < len(bs) && bs[i].Start <= d.Line && d.Line <= bs[i].End {
			if !seen[bs[i].Name] {
				seen[bs[i].Name] = true
				names = append(names, bs[i].Name)
			}
			continue
		}
		stray = append(stray, d)
	}
	sort.Strings(names)
	return names, stray
}

// Replace rewrites the bodies of the named bindings so that calling one
// sets gotch's thread-local error to "<name>: not available in libtorch
// <version>" instead of failing to compile. The signature is kept, so the
// Go side links unchanged and reports the error through ts.TorchErr.
func Replace(src string, bs []Binding, names []string, version string) (string, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	lines := strings.Split(src, "\n")
	var out []string
	next := 0
	done := 0
	for _, b := range bs {
		if !want[b.Name] {
			continue
		}
		out = append(out, lines[next:b.Start]...) // up to and including the signature
		msg := fmt.Sprintf("%s: not available in libtorch %s", strings.TrimPrefix(b.Name, "atg_"), version)
		out = append(out, fmt.Sprintf("  // flowssl gotchprep: the generated body does not compile against libtorch %s.", version))
		out = append(out, fmt.Sprintf("  torch_last_err = strdup(%s);", strconv.Quote(msg)))
		if b.ReturnType != "void" {
			out = append(out, "  return {};")
		}
		out = append(out, "}")
		next = b.End
		done++
	}
	if done != len(want) {
		return "", fmt.Errorf("replace: %d of %d named bindings found", done, len(want))
	}
	out = append(out, lines[next:]...)
	return strings.Join(out, "\n"), nil
}
