package augment

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseBadImagePolicy(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    BadImagePolicy
		wantErr bool
	}{
		{"", BadImageSkip, false},
		{"skip", BadImageSkip, false},
		{"error", BadImageError, false},
		{"Skip", 0, true},
		{"ignore", 0, true},
	} {
		got, err := ParseBadImagePolicy(c.in)
		if (err != nil) != c.wantErr || (!c.wantErr && got != c.want) {
			t.Errorf("ParseBadImagePolicy(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.wantErr)
		}
	}
	var cfg struct {
		OnBadImage BadImagePolicy `yaml:"on_bad_image"`
	}
	if err := yaml.Unmarshal([]byte("on_bad_image: error\n"), &cfg); err != nil || cfg.OnBadImage != BadImageError {
		t.Errorf("yaml: %v, %v", cfg.OnBadImage, err)
	}
	if err := yaml.Unmarshal([]byte("on_bad_image: sometimes\n"), &cfg); err == nil || !strings.Contains(err.Error(), "sometimes") {
		t.Errorf("yaml accepted a bad policy: %v", err)
	}
	if out, err := yaml.Marshal(map[string]BadImagePolicy{"p": BadImageSkip}); err != nil || string(out) != "p: skip\n" {
		t.Errorf("yaml.Marshal = %q, %v", out, err)
	}
}

func TestBadImagePolicyHandle(t *testing.T) {
	_, decodeErr := Decode([]byte("not an image"), DecodeOptions{})
	ioErr := fmt.Errorf("read: %w", fs.ErrPermission)
	for _, c := range []struct {
		p        BadImagePolicy
		err      error
		skip     bool
		wantErr  error // errors.Is target, nil for no error
		mentions string
	}{
		{BadImageSkip, nil, false, nil, ""},
		{BadImageError, nil, false, nil, ""},
		{BadImageSkip, decodeErr, true, nil, ""},
		{BadImageError, decodeErr, false, ErrBadImage, "n01/x.JPEG"},
		{BadImageSkip, ioErr, false, fs.ErrPermission, "n01/x.JPEG"},
		{BadImageError, ioErr, false, fs.ErrPermission, "n01/x.JPEG"},
	} {
		skip, err := c.p.Handle("n01/x.JPEG", c.err)
		if skip != c.skip || (c.wantErr == nil) != (err == nil) || (c.wantErr != nil && !errors.Is(err, c.wantErr)) ||
			(c.mentions != "" && !strings.Contains(err.Error(), c.mentions)) {
			t.Errorf("%v.Handle(%v) = %v, %v; want skip %v, error %v naming the file", c.p, c.err, skip, err, c.skip, c.wantErr)
		}
	}
}

func TestBadImageCounter(t *testing.T) {
	var c BadImageCounter
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				c.Inc()
			}
		}()
	}
	wg.Wait()
	if c.Count() != 8000 {
		t.Errorf("count %d, want 8000", c.Count())
	}
}

func TestMissingEnv(t *testing.T) {
	env := map[string]string{}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if got := MissingEnv(lookup); len(got) != 1 || got[0] != "MALLOC_ARENA_MAX=2" {
		t.Errorf("MissingEnv with nothing set = %v, want [MALLOC_ARENA_MAX=2]", got)
	}
	env["MALLOC_ARENA_MAX"] = "8" // the user's choice wins
	if got := MissingEnv(lookup); len(got) != 0 {
		t.Errorf("MissingEnv with MALLOC_ARENA_MAX set = %v, want none", got)
	}
}
