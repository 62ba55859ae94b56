// Package tree holds the value model of a resolved config: an insertion-ordered map plus
// plain Go scalars and slices.
//
// # Values
//
// A tree value is one of: *Map, []any, string, int, float64, bool or nil. Python tuples
// become []any (as in mmcv's YAML/JSON dumps). Functions here never share structure with
// their inputs unless the doc says so; Clone gives an independent copy.
package tree
