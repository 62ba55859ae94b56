package logx

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
)

func TestConsoleAndJSON(t *testing.T) {
	var console bytes.Buffer
	dir := t.TempDir()
	l, err := New(Options{Console: &console, JSONDir: dir, NoColor: true})
	if err != nil {
		t.Fatal(err)
	}
	l.Info().Int("epoch", 3).Msg("hello")
	Slog(l.Logger).With("actor", "loader").Warn("queue full", "depth", 7)
	Slog(l.Logger).Debug("hidden") // below Info: dropped everywhere
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(console.String(), "hello") || !strings.Contains(console.String(), "epoch=3") {
		t.Fatalf("console: %q", console.String())
	}
	if strings.Contains(console.String(), "hidden") {
		t.Fatalf("debug line leaked to console: %q", console.String())
	}
	f, err := os.Open(l.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q", sc.Text())
		}
		recs = append(recs, m)
	}
	if len(recs) != 2 {
		t.Fatalf("got %d JSON records, want 2: %v", len(recs), recs)
	}
	if recs[0]["epoch"] != 3.0 || recs[0]["message"] != "hello" {
		t.Fatalf("record 0: %v", recs[0])
	}
	if recs[1]["level"] != "warn" || recs[1]["actor"] != "loader" || recs[1]["depth"] != 7.0 {
		t.Fatalf("slog record: %v", recs[1])
	}
}

// TestJSONTimeIsIterTime: mmcv's "time" field (seconds per iteration)
// survives in the JSON lines; the timestamp is "timestamp", not a second
// "time" key that JSON readers would keep instead.
func TestJSONTimeIsIterTime(t *testing.T) {
	l, err := New(Options{Console: io.Discard, JSONDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	l.Info().Float64("time", 1.5).Msg("train")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(l.Path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte(`"time"`)); n != 1 {
		t.Fatalf("%d \"time\" keys in %s", n, b)
	}
	var d map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(b), &d); err != nil {
		t.Fatal(err)
	}
	if d["time"] != 1.5 || d["timestamp"] == nil {
		t.Fatalf("line %s: want time 1.5 and a timestamp", b)
	}
}
