package checkpoint

import (
	"fmt"
	"strings"
)

// valuePath names a value inside a checkpoint for error messages ("obj[meta][seed]").
// It is a chain built while walking and only turned into text on error, so that
// walking deeply nested values stays linear.
type valuePath struct {
	parent *valuePath
	root   string
	key    any
	suffix string
}

func rootPath(name string) *valuePath { return &valuePath{root: name} }

// at is the path of element or key k below p.
func (p *valuePath) at(k any) *valuePath { return &valuePath{parent: p, key: k} }

// with is p followed by a literal suffix such as " key" or ".__dict__".
func (p *valuePath) with(s string) *valuePath { return &valuePath{parent: p, suffix: s} }

func (p *valuePath) String() string {
	var parts []string
	for q := p; q != nil; q = q.parent {
		switch {
		case q.parent == nil:
			parts = append(parts, q.root)
		case q.suffix != "":
			parts = append(parts, q.suffix)
		default:
			parts = append(parts, fmt.Sprintf("[%v]", q.key))
		}
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
	}
	return b.String()
}
