package augment

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// BadImagePolicy says what a dataset does with a file that fails to decode
// (an error wrapping ErrBadImage). The zero value is BadImageSkip.
type BadImagePolicy int

const (
	// BadImageSkip drops the sample; the caller logs the file name and
	// counts it in a BadImageCounter.
	BadImageSkip BadImagePolicy = iota
	// BadImageError stops with the error, naming the file.
	BadImageError
)

// ParseBadImagePolicy reads a config value: "skip" (also "", the default) or
// "error".
func ParseBadImagePolicy(s string) (BadImagePolicy, error) {
	switch s {
	case "", "skip":
		return BadImageSkip, nil
	case "error":
		return BadImageError, nil
	}
	return 0, fmt.Errorf("bad image policy %q: want \"error\" or \"skip\"", s)
}

// String returns the config spelling.
func (p BadImagePolicy) String() string {
	switch p {
	case BadImageSkip:
		return "skip"
	case BadImageError:
		return "error"
	}
	return fmt.Sprintf("BadImagePolicy(%d)", int(p))
}

// UnmarshalText lets yaml and flag packages read the policy.
func (p *BadImagePolicy) UnmarshalText(b []byte) error {
	v, err := ParseBadImagePolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// MarshalText writes the config spelling.
func (p BadImagePolicy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// Handle applies the policy to the outcome of decoding the file name. A nil
// err gives (false, nil). A bad image gives (true, nil) under BadImageSkip and
// the error, prefixed with name, under BadImageError. Any other error (I/O, a
// caller's bad crop) is returned prefixed with name whatever the policy:
// skipping is only for broken data.
func (p BadImagePolicy) Handle(name string, err error) (skip bool, _ error) {
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, ErrBadImage) && p == BadImageSkip:
		return true, nil
	}
	return false, fmt.Errorf("%s: %w", name, err)
}

// BadImageCounter counts skipped files; safe for concurrent use. The zero
// value is ready.
type BadImageCounter struct{ n atomic.Int64 }

// Inc records one skipped file and returns the new total.
func (c *BadImageCounter) Inc() int64 { return c.n.Add(1) }

// Count returns the total so far.
func (c *BadImageCounter) Count() int64 { return c.n.Load() }
