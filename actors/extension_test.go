package actors

import (
	"strings"
	"testing"

	"github.com/flowssl/flowssl/checkpoint"
)

type counterExt struct {
	name string
	n    int64
}

func (c *counterExt) Name() string { return c.name }
func (c *counterExt) SaveState() (*checkpoint.Dict, error) {
	d := checkpoint.NewDict()
	d.Set("n", c.n)
	return d, nil
}
func (c *counterExt) LoadState(d *checkpoint.Dict) error {
	v, _ := d.Get("n")
	c.n = v.(int64)
	return nil
}

type plainExt struct{}

func (plainExt) Name() string { return "plain" }

func TestExtensionStateRoundTrip(t *testing.T) {
	a, b := &counterExt{name: "memory", n: 7}, &counterExt{name: "clusterer", n: 42}
	w, err := checkpoint.FromFloat32([]int64{1}, []float32{1})
	if err != nil {
		t.Fatal(err)
	}
	sd := checkpoint.NewOrderedDict()
	sd.Set("w", w)
	ck := &checkpoint.Checkpoint{StateDict: sd}
	if err := saveExtensions([]Extension{a, plainExt{}, b}, ck); err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/x.pth"
	if err := ck.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a2, b2 := &counterExt{name: "memory"}, &counterExt{name: "clusterer"}
	if err := loadExtensions([]Extension{a2, plainExt{}, b2}, got); err != nil {
		t.Fatal(err)
	}
	if a2.n != 7 || b2.n != 42 {
		t.Fatalf("restored %d, %d; want 7, 42", a2.n, b2.n)
	}
	err = loadExtensions([]Extension{&counterExt{name: "queue"}}, got)
	if err == nil || !strings.Contains(err.Error(), "queue") {
		t.Fatalf("missing state: got %v, want an error naming queue", err)
	}
}
