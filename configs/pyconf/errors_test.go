package pyconf

import (
	"strings"
	"testing"

	"github.com/flowssl/flowssl/configs/tree"
)

func TestEvalErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"x = y\n", `c.py:1: name "y" is not defined`},
		{"a = 1\nb = (1,\n 2\nc = 3\n", `c.py:4: expected ',' or ")", found "c"`},
		{"import os\n", `c.py:1: "import" statements are not supported in configs`},
		{"def f():\n    pass\n", `c.py:1: "def" statements are not supported`},
		{"for i in x:\n    pass\n", `c.py:1: "for" statements are not supported`},
		{"x = 'abc\n", `c.py:1: unterminated string literal`},
		{"x = '''abc\n\n", `c.py:1: unterminated string literal`},
		{"x = [1, 2]\nx.sort()\n", `c.py:2: list has no supported attribute "sort"`},
		{"x = f(1)\n", `c.py:1: name "f" is not defined`},
		{"x = 1\nx += 1\n", `c.py:2: augmented assignment "+=" is not supported`},
		{"x = 'a' + 1\n", `c.py:1: unsupported operand types for +: str and int`},
		{"x = 1 / 0\n", `c.py:1: division by zero`},
		{"x = dict(a=1, a=2)\n", `c.py:1: keyword argument repeated: a`},
		{"a = dict(k=1)\nx = dict(k=2, **a)\n", `c.py:2: dict() got multiple values for keyword argument "k"`},
		{"x = {1: 2}\n", `c.py:1: dict keys must be strings in configs, got int`},
		{"x = dict(**[1])\n", `c.py:1: '**' needs a dict, got list`},
		{"if True:\nx = 1\n", `c.py:2: expected an indented block`},
		{"if True:\n    x = 1\n  y = 2\n", `c.py:3: unindent does not match any outer indentation level`},
		{"x = 1\n  y = 2\n", `c.py:2: unexpected indent`},
		{"x = [1][3]\n", `c.py:1: index 3 out of range`},
		{"x = 010\n", `c.py:1: leading zeros in decimal integer literal "010" are not permitted`},
		{"x = f'a'\n", `c.py:1: f-strings are not supported in configs`},
		{"x = [1]\nx.append(x)\n", `c.py:1: x: nesting deeper than 200`},
		{"x = 1 $ 2\n", `c.py:1: unexpected character '$'`},
		{"x = (1))\n", `c.py:1: unmatched ")"`},
		{"True = 1\n", `c.py:1: only assignments to names`},
		{"a, b = 1, 2, 3\n", `c.py:1: cannot unpack tuple into 2 names`},
		{"x = [1][0:1]\n", `c.py:1: slices are not supported in configs`},
	}
	for _, c := range cases {
		_, err := Eval("c.py", []byte(c.src), Options{})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q:\n got  %v\n want %s", c.src, err, c.want)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	src := "model = dict(n=_base_ref_1_, s='x_base_ref_1_y', defined=_base_ref_2_)\n_base_ref_2_ = 5\n"
	_, err := Eval("p.py", []byte(src), Options{Placeholders: map[string]string{"_base_ref_1_": "_base_ref_1_"}})
	if err == nil || !strings.Contains(err.Error(), `name "_base_ref_2_" is not defined`) {
		t.Errorf("unknown placeholder: %v", err)
	}
	m, err := Eval("p.py", []byte("x = _ph_\ny = [_ph_, 'in _ph_ text']\n"), Options{Placeholders: map[string]string{"_ph_": "REF"}})
	if err != nil {
		t.Fatal(err)
	}
	want := tree.FromPairs("x", "REF", "y", []any{"REF", "in _ph_ text"})
	if d := tree.Diff("", want, m); d != "" {
		t.Error(d)
	}
}

func TestSharedReferences(t *testing.T) {
	src := "p = [1]\nd = dict(a=p, b=[p])\np.append(2)\ne = dict(**d)\np.extend((3,))\n"
	m, err := Eval("s.py", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := tree.FromPairs("p", []any{1, 2, 3},
		"d", tree.FromPairs("a", []any{1, 2, 3}, "b", []any{[]any{1, 2, 3}}),
		"e", tree.FromPairs("a", []any{1, 2, 3}, "b", []any{[]any{1, 2, 3}}))
	if d := tree.Diff("", want, m); d != "" {
		t.Error(d)
	}
	// The result is independent: changing one copy leaves the others alone.
	pv, _ := m.Get("p")
	pv.([]any)[0] = 99
	dv, _ := m.Get("d")
	if a, _ := dv.(*tree.Map).Get("a"); a.([]any)[0] != 1 {
		t.Error("result shares list storage")
	}
}
