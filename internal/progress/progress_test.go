package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestBarDrawsToWriter(t *testing.T) {
	var buf bytes.Buffer
	b := NewTo(&buf, "extract", 4)
	b.Add(1) // first draw happens at once
	b.Add(3) // the last step always draws
	b.Finish()
	out := buf.String()
	for _, want := range []string{"\rextract [", "1/4  25%", "4/4 100%", "[==============================]"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output %q lacks %q", out, want)
		}
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("Finish did not end the line: %q", out)
	}
}

// A nil bar (stderr not a terminal) is a no-op, and a pipe is no terminal.
func TestNilBarAndPipe(t *testing.T) {
	var b *Bar
	b.Add(1)
	b.Set(3)
	b.Finish()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if IsTerminal(w) {
		t.Fatal("a pipe reported as a terminal")
	}
}
