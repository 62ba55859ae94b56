package pyconf

import (
	"fmt"
	"math"
	"strings"

	"github.com/flowssl/flowssl/configs/tree"
)

// pyList is a mutable Python list; a pointer so that every name bound to it sees mutations.
type pyList struct{ items []any }

// pyTuple is an immutable Python tuple.
type pyTuple struct{ items []any }

// builtin is a callable name ("dict", "list", "tuple").
type builtin string

// boundMethod is a method looked up on a list or dict, waiting to be called.
type boundMethod struct {
	recv any
	name string
}

// Options tunes evaluation.
type Options struct {
	// Placeholders maps identifiers to the strings they stand for when no variable of that
	// name exists; the config loader uses it for {{_base_.x}} references, which it has
	// already rewritten into identifiers.
	Placeholders map[string]string
}

// Eval parses and runs src (the text of file) and returns its top-level names in order.
func Eval(file string, src []byte, opts Options) (*tree.Map, error) {
	toks, err := lex(file, string(src))
	if err != nil {
		return nil, err
	}
	prog, err := parse(file, toks)
	if err != nil {
		return nil, err
	}
	in := &interp{file: file, env: tree.NewMap(), opts: opts}
	if err := in.run(prog); err != nil {
		return nil, err
	}
	out := tree.NewMap()
	var convErr error
	in.env.Each(func(k string, v any) bool {
		if strings.HasPrefix(k, "__") {
			return true
		}
		switch v.(type) {
		case builtin, boundMethod:
			return true // functions are not config keys
		}
		tv, err := toTree(v)
		if err != nil {
			convErr = &Error{File: file, Line: in.lines[k], Msg: fmt.Sprintf("%s: %v", k, err)}
			return false
		}
		out.Set(k, tv)
		return true
	})
	if convErr != nil {
		return nil, convErr
	}
	return out, nil
}

type interp struct {
	file  string
	env   *tree.Map
	lines map[string]int
	opts  Options
}

func (in *interp) errAt(line int, format string, a ...any) error {
	return &Error{File: in.file, Line: line, Msg: fmt.Sprintf(format, a...)}
}

func (in *interp) run(prog []stmt) error {
	if in.lines == nil {
		in.lines = map[string]int{}
	}
	for _, s := range prog {
		switch s := s.(type) {
		case *assignStmt:
			v, err := in.eval(s.val)
			if err != nil {
				return err
			}
			for _, names := range s.targets {
				vals := []any{v}
				if len(names) > 1 {
					items, ok := iterItems(v)
					if !ok || len(items) != len(names) {
						return in.errAt(s.line, "cannot unpack %s into %d names", typeName(v), len(names))
					}
					vals = items
				}
				for i, name := range names {
					switch name {
					case "True", "False", "None", "dict", "list", "tuple":
						return in.errAt(s.line, "cannot assign to %s", name)
					}
					in.env.Set(name, vals[i])
					in.lines[name] = s.line
				}
			}
		case *exprStmt:
			if _, err := in.eval(s.x); err != nil {
				return err
			}
		case *ifStmt:
			c, err := in.eval(s.cond)
			if err != nil {
				return err
			}
			branch := s.other
			if truthy(c) {
				branch = s.body
			}
			if err := in.run(branch); err != nil {
				return err
			}
		case *passStmt:
		}
	}
	return nil
}

func (in *interp) eval(e expr) (any, error) {
	switch e := e.(type) {
	case *constExpr:
		return e.val, nil
	case *nameExpr:
		if v, ok := in.env.Get(e.name); ok {
			return v, nil
		}
		if s, ok := in.opts.Placeholders[e.name]; ok {
			return s, nil
		}
		switch e.name {
		case "dict", "list", "tuple":
			return builtin(e.name), nil
		}
		return nil, in.errAt(e.line, "name %q is not defined", e.name)
	case *listExpr:
		items, err := in.evalAll(e.elems)
		if err != nil {
			return nil, err
		}
		return &pyList{items: items}, nil
	case *tupleExpr:
		items, err := in.evalAll(e.elems)
		if err != nil {
			return nil, err
		}
		return &pyTuple{items: items}, nil
	case *dictExpr:
		return in.evalDict(e)
	case *callExpr:
		return in.evalCall(e)
	case *attrExpr:
		recv, err := in.eval(e.x)
		if err != nil {
			return nil, err
		}
		switch recv.(type) {
		case *pyList:
			if e.name == "extend" || e.name == "append" {
				return boundMethod{recv: recv, name: e.name}, nil
			}
		case *tree.Map:
			if e.name == "update" {
				return boundMethod{recv: recv, name: e.name}, nil
			}
		}
		return nil, in.errAt(e.line, "%s has no supported attribute %q (configs may only call list.extend, list.append and dict.update)", typeName(recv), e.name)
	case *indexExpr:
		return in.evalIndex(e)
	case *unaryExpr:
		x, err := in.eval(e.x)
		if err != nil {
			return nil, err
		}
		if e.op == "not" {
			return !truthy(x), nil
		}
		switch v := x.(type) {
		case int:
			if e.op == "-" {
				return -v, nil
			}
			return v, nil
		case float64:
			if e.op == "-" {
				return -v, nil
			}
			return v, nil
		case bool:
			n := 0
			if v {
				n = 1
			}
			if e.op == "-" {
				n = -n
			}
			return n, nil
		}
		return nil, in.errAt(e.line, "bad operand type for unary %s: %s", e.op, typeName(x))
	case *binExpr:
		return in.evalBinary(e)
	}
	return nil, in.errAt(e.pos(), "unsupported expression")
}

func (in *interp) evalAll(es []expr) ([]any, error) {
	out := make([]any, 0, len(es))
	for _, x := range es {
		v, err := in.eval(x)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (in *interp) evalDict(e *dictExpr) (any, error) {
	d := tree.NewMap()
	for i, kx := range e.keys {
		v, err := in.eval(e.vals[i])
		if err != nil {
			return nil, err
		}
		if kx == nil {
			src, ok := v.(*tree.Map)
			if !ok {
				return nil, in.errAt(e.vals[i].pos(), "'**' needs a dict, got %s", typeName(v))
			}
			src.Each(func(k string, sv any) bool { d.Set(k, sv); return true })
			continue
		}
		k, err := in.eval(kx)
		if err != nil {
			return nil, err
		}
		ks, ok := k.(string)
		if !ok {
			return nil, in.errAt(kx.pos(), "dict keys must be strings in configs, got %s", typeName(k))
		}
		d.Set(ks, v)
	}
	return d, nil
}

func (in *interp) evalCall(e *callExpr) (any, error) {
	fn, err := in.eval(e.fn)
	if err != nil {
		return nil, err
	}
	args, err := in.evalAll(e.args)
	if err != nil {
		return nil, err
	}
	switch f := fn.(type) {
	case builtin:
		return in.callBuiltin(e, string(f), args)
	case boundMethod:
		if len(e.kws) > 0 || len(args) != 1 {
			return nil, in.errAt(e.line, "%s.%s() takes exactly one positional argument", typeName(f.recv), f.name)
		}
		switch f.name {
		case "append":
			l := f.recv.(*pyList)
			l.items = append(l.items, args[0])
		case "extend":
			l := f.recv.(*pyList)
			items, ok := iterItems(args[0])
			if !ok {
				return nil, in.errAt(e.line, "list.extend() needs a list or tuple, got %s", typeName(args[0]))
			}
			l.items = append(l.items, items...)
		case "update":
			src, ok := args[0].(*tree.Map)
			if !ok {
				return nil, in.errAt(e.line, "dict.update() needs a dict, got %s", typeName(args[0]))
			}
			d := f.recv.(*tree.Map)
			src.Each(func(k string, v any) bool { d.Set(k, v); return true })
		}
		return nil, nil
	}
	return nil, in.errAt(e.line, "%s is not callable (only dict(), list(), tuple() and list/dict methods are)", typeName(fn))
}

func (in *interp) callBuiltin(e *callExpr, name string, args []any) (any, error) {
	if name != "dict" {
		if len(e.kws) > 0 || len(args) > 1 {
			return nil, in.errAt(e.line, "%s() takes at most one positional argument", name)
		}
		var items []any
		if len(args) == 1 {
			var ok bool
			if items, ok = iterItems(args[0]); !ok {
				return nil, in.errAt(e.line, "%s() needs a list or tuple, got %s", name, typeName(args[0]))
			}
		}
		items = append([]any(nil), items...)
		if name == "list" {
			return &pyList{items: items}, nil
		}
		return &pyTuple{items: items}, nil
	}
	d := tree.NewMap()
	if len(args) > 1 {
		return nil, in.errAt(e.line, "dict() takes at most one positional argument")
	}
	if len(args) == 1 {
		src, ok := args[0].(*tree.Map)
		if !ok {
			return nil, in.errAt(e.line, "dict() positional argument must be a dict, got %s", typeName(args[0]))
		}
		src.Each(func(k string, v any) bool { d.Set(k, v); return true })
	}
	for _, kw := range e.kws {
		v, err := in.eval(kw.val)
		if err != nil {
			return nil, err
		}
		if kw.unpack {
			src, ok := v.(*tree.Map)
			if !ok {
				return nil, in.errAt(kw.val.pos(), "'**' needs a dict, got %s", typeName(v))
			}
			var dup string
			src.Each(func(k string, sv any) bool {
				if d.Has(k) && len(args) == 0 {
					dup = k
					return false
				}
				d.Set(k, sv)
				return true
			})
			if dup != "" {
				return nil, in.errAt(kw.val.pos(), "dict() got multiple values for keyword argument %q", dup)
			}
			continue
		}
		if d.Has(kw.name) && len(args) == 0 {
			return nil, in.errAt(kw.val.pos(), "dict() got multiple values for keyword argument %q", kw.name)
		}
		d.Set(kw.name, v)
	}
	return d, nil
}

func (in *interp) evalIndex(e *indexExpr) (any, error) {
	x, err := in.eval(e.x)
	if err != nil {
		return nil, err
	}
	idx, err := in.eval(e.idx)
	if err != nil {
		return nil, err
	}
	if d, ok := x.(*tree.Map); ok {
		k, ok := idx.(string)
		if !ok {
			return nil, in.errAt(e.line, "dict keys are strings, got %s", typeName(idx))
		}
		v, ok := d.Get(k)
		if !ok {
			return nil, in.errAt(e.line, "KeyError: %q", k)
		}
		return v, nil
	}
	items, ok := iterItems(x)
	if !ok {
		if s, isStr := x.(string); isStr {
			items = nil
			for _, r := range s {
				items = append(items, string(r))
			}
		} else {
			return nil, in.errAt(e.line, "%s is not subscriptable", typeName(x))
		}
	}
	i, ok := idx.(int)
	if !ok {
		return nil, in.errAt(e.line, "indices must be integers, got %s", typeName(idx))
	}
	if i < 0 {
		i += len(items)
	}
	if i < 0 || i >= len(items) {
		return nil, in.errAt(e.line, "index %d out of range", idx)
	}
	return items[i], nil
}

func (in *interp) evalBinary(e *binExpr) (any, error) {
	l, err := in.eval(e.l)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "and":
		if !truthy(l) {
			return l, nil
		}
		return in.eval(e.r)
	case "or":
		if truthy(l) {
			return l, nil
		}
		return in.eval(e.r)
	}
	r, err := in.eval(e.r)
	if err != nil {
		return nil, err
	}
	v, err := binary(e.op, l, r)
	if err != nil {
		return nil, in.errAt(e.line, "%v", err)
	}
	return v, nil
}

func binary(op string, l, r any) (any, error) {
	if compareOps[op] {
		return compare(op, l, r)
	}
	// Sequences and strings.
	switch a := l.(type) {
	case string:
		if b, ok := r.(string); ok && op == "+" {
			return a + b, nil
		}
		if n, ok := r.(int); ok && op == "*" {
			return strings.Repeat(a, max(n, 0)), nil
		}
	case *pyList:
		if b, ok := r.(*pyList); ok && op == "+" {
			return &pyList{items: append(append([]any(nil), a.items...), b.items...)}, nil
		}
	case *pyTuple:
		if b, ok := r.(*pyTuple); ok && op == "+" {
			return &pyTuple{items: append(append([]any(nil), a.items...), b.items...)}, nil
		}
	}
	li, lInt := asInt(l)
	ri, rInt := asInt(r)
	lf, lNum := asFloat(l)
	rf, rNum := asFloat(r)
	if !lNum || !rNum {
		return nil, fmt.Errorf("unsupported operand types for %s: %s and %s", op, typeName(l), typeName(r))
	}
	bothInt := lInt && rInt
	switch op {
	case "+":
		if bothInt {
			return li + ri, nil
		}
		return lf + rf, nil
	case "-":
		if bothInt {
			return li - ri, nil
		}
		return lf - rf, nil
	case "*":
		if bothInt {
			return li * ri, nil
		}
		return lf * rf, nil
	case "/":
		if rf == 0 {
			return nil, fmt.Errorf("division by zero")
		}
		return lf / rf, nil
	case "//", "%":
		if rf == 0 {
			return nil, fmt.Errorf("integer division or modulo by zero")
		}
		if bothInt {
			q := li / ri
			if (li%ri != 0) && ((li < 0) != (ri < 0)) {
				q--
			}
			if op == "//" {
				return q, nil
			}
			return li - q*ri, nil
		}
		q := math.Floor(lf / rf)
		if op == "//" {
			return q, nil
		}
		return lf - q*rf, nil
	case "**":
		if bothInt && ri >= 0 {
			out := 1
			for i := 0; i < ri; i++ {
				out *= li
			}
			return out, nil
		}
		return math.Pow(lf, rf), nil
	}
	return nil, fmt.Errorf("unsupported operator %s", op)
}

func compare(op string, l, r any) (any, error) {
	if lf, ok := asFloat(l); ok {
		if rf, ok := asFloat(r); ok {
			switch op {
			case "==":
				return lf == rf, nil
			case "!=":
				return lf != rf, nil
			case "<":
				return lf < rf, nil
			case ">":
				return lf > rf, nil
			case "<=":
				return lf <= rf, nil
			case ">=":
				return lf >= rf, nil
			}
		}
	}
	switch op {
	case "==", "!=":
		a, err := toTree(l)
		if err != nil {
			return nil, err
		}
		b, err := toTree(r)
		if err != nil {
			return nil, err
		}
		eq := tree.Equal(a, b)
		return eq == (op == "=="), nil
	}
	if a, ok := l.(string); ok {
		if b, ok := r.(string); ok {
			switch op {
			case "<":
				return a < b, nil
			case ">":
				return a > b, nil
			case "<=":
				return a <= b, nil
			case ">=":
				return a >= b, nil
			}
		}
	}
	return nil, fmt.Errorf("'%s' not supported between %s and %s", op, typeName(l), typeName(r))
}

func asInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func iterItems(v any) ([]any, bool) {
	switch x := v.(type) {
	case *pyList:
		return x.items, true
	case *pyTuple:
		return x.items, true
	}
	return nil, false
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case *pyList:
		return len(x.items) > 0
	case *pyTuple:
		return len(x.items) > 0
	case *tree.Map:
		return x.Len() > 0
	}
	return true
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case *pyList:
		return "list"
	case *pyTuple:
		return "tuple"
	case *tree.Map:
		return "dict"
	case builtin:
		return "builtin function"
	case boundMethod:
		return "method"
	}
	return fmt.Sprintf("%T", v)
}

// maxDepth bounds nesting so that a list appended to itself is an error, not a crash.
const maxDepth = 200

var errTooDeep = fmt.Errorf("nesting deeper than %d (a list or dict that contains itself?)", maxDepth)

// toTree converts an evaluated value into an independent tree value.
func toTree(v any) (any, error) { return toTreeDepth(v, 0) }

func toTreeDepth(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	switch x := v.(type) {
	case nil, bool, int, float64, string:
		return x, nil
	case *pyList:
		return toTreeList(x.items, depth)
	case *pyTuple:
		return toTreeList(x.items, depth)
	case *tree.Map:
		out := tree.NewMap()
		var err error
		x.Each(func(k string, e any) bool {
			var tv any
			if tv, err = toTreeDepth(e, depth+1); err != nil {
				if err != errTooDeep {
					err = fmt.Errorf("%s: %w", k, err)
				}
				return false
			}
			out.Set(k, tv)
			return true
		})
		return out, err
	}
	return nil, fmt.Errorf("a %s cannot be a config value", typeName(v))
}

func toTreeList(items []any, depth int) (any, error) {
	out := make([]any, len(items))
	for i, e := range items {
		tv, err := toTreeDepth(e, depth+1)
		if err == errTooDeep {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i] = tv
	}
	return out, nil
}
