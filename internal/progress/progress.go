// Package progress draws a one-line progress bar on stderr for long loops
// (feature extraction, evaluation epochs, t-SNE), and nothing at all when
// stderr is not a terminal, so logs and CI output stay clean.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Bar is a progress bar over Total steps. A nil *Bar is valid and draws
// nothing, so callers need no terminal checks. Methods are safe for
// concurrent use.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	desc     string
	total    int
	done     int
	start    time.Time
	last     time.Time
	interval time.Duration
	width    int
}

// New returns a bar on stderr when stderr is a terminal, else nil.
func New(desc string, total int) *Bar {
	if !IsTerminal(os.Stderr) {
		return nil
	}
	return NewTo(os.Stderr, desc, total)
}

// NewTo returns a bar that always draws to w (tests, or a forced bar).
func NewTo(w io.Writer, desc string, total int) *Bar {
	now := time.Now()
	return &Bar{w: w, desc: desc, total: total, start: now, interval: 100 * time.Millisecond, width: 30}
}

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Add advances the bar by n steps, redrawing at most every 100 ms and
// always at the end.
func (b *Bar) Add(n int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	now := time.Now()
	if b.done < b.total && now.Sub(b.last) < b.interval {
		return
	}
	b.last = now
	b.draw(now)
}

// Set moves the bar to step done.
func (b *Bar) Set(done int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	d := done - b.done
	b.mu.Unlock()
	b.Add(d)
}

// Finish ends the line.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.draw(time.Now())
	fmt.Fprintln(b.w)
}

// draw writes "\r desc [=====>    ] done/total pct% elapsed eta".
func (b *Bar) draw(now time.Time) {
	frac := 0.0
	if b.total > 0 {
		frac = min(1, float64(b.done)/float64(b.total))
	}
	fill := int(frac * float64(b.width))
	bar := strings.Repeat("=", fill)
	if fill < b.width {
		bar += ">" + strings.Repeat(" ", b.width-fill-1)
	}
	el := now.Sub(b.start).Round(time.Second)
	eta := "?"
	if b.done > 0 && b.total > 0 {
		eta = (time.Duration(float64(now.Sub(b.start)) * (1/frac - 1))).Round(time.Second).String()
	}
	fmt.Fprintf(b.w, "\r%s [%s] %d/%d %3.0f%% %s eta %s", b.desc, bar, b.done, b.total, 100*frac, el, eta)
}
