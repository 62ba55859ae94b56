package pyconf

import "fmt"

type parser struct {
	file string
	toks []token
	i    int
}

func parse(file string, toks []token) ([]stmt, error) {
	p := &parser{file: file, toks: toks}
	var out []stmt
	for p.peek().kind != tEOF {
		if p.peek().kind == tNewline {
			p.i++
			continue
		}
		s, err := p.statement()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(line int, format string, a ...any) error {
	return &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, a...)}
}

func (p *parser) isOp(s string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == s
}

func (p *parser) isKeyword(s string) bool {
	t := p.peek()
	return t.kind == tName && t.text == s
}

func (p *parser) expectOp(s string) (token, error) {
	t := p.next()
	if t.kind != tOp || t.text != s {
		return t, p.errAt(t.line, "expected %q, found %s", s, t.describe())
	}
	return t, nil
}

func (p *parser) endOfStatement() error {
	t := p.next()
	if t.kind != tNewline && t.kind != tEOF {
		return p.errAt(t.line, "unexpected %s after statement", t.describe())
	}
	return nil
}

var unsupportedKeywords = map[string]bool{
	"import": true, "from": true, "def": true, "class": true, "for": true, "while": true,
	"lambda": true, "with": true, "try": true, "return": true, "del": true, "global": true,
	"assert": true, "raise": true, "yield": true, "async": true, "await": true,
}

func (p *parser) statement() (stmt, error) {
	t := p.peek()
	if t.kind == tIndent {
		return nil, p.errAt(t.line, "unexpected indent")
	}
	if t.kind == tName {
		switch {
		case t.text == "if":
			return p.ifStatement()
		case t.text == "pass":
			p.next()
			return &passStmt{line: t.line}, p.endOfStatement()
		case unsupportedKeywords[t.text]:
			return nil, p.errAt(t.line, "%q statements are not supported in configs", t.text)
		}
	}
	x, err := p.expression()
	if err != nil {
		return nil, err
	}
	if !p.isOp("=") {
		if p.peek().kind == tOp && len(p.peek().text) >= 2 && p.peek().text[len(p.peek().text)-1] == '=' &&
			p.peek().text != "==" && p.peek().text != "!=" && p.peek().text != "<=" && p.peek().text != ">=" {
			return nil, p.errAt(p.peek().line, "augmented assignment %q is not supported in configs", p.peek().text)
		}
		return &exprStmt{line: t.line, x: x}, p.endOfStatement()
	}
	a := &assignStmt{line: t.line}
	for p.isOp("=") {
		names, ok := targetNames(x)
		if !ok {
			return nil, p.errAt(x.pos(), "only assignments to names (or a tuple of names) are supported")
		}
		a.targets = append(a.targets, names)
		p.next()
		if x, err = p.expression(); err != nil {
			return nil, err
		}
	}
	a.val = x
	return a, p.endOfStatement()
}

func (p *parser) ifStatement() (stmt, error) {
	kw := p.next() // "if" or "elif"
	cond, err := p.expression()
	if err != nil {
		return nil, err
	}
	body, err := p.block()
	if err != nil {
		return nil, err
	}
	s := &ifStmt{line: kw.line, cond: cond, body: body}
	switch {
	case p.isKeyword("elif"):
		nested, err := p.ifStatement()
		if err != nil {
			return nil, err
		}
		s.other = []stmt{nested}
	case p.isKeyword("else"):
		p.next()
		if s.other, err = p.block(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// block parses ':' followed by an indented suite or a simple statement on the same line.
func (p *parser) block() ([]stmt, error) {
	if _, err := p.expectOp(":"); err != nil {
		return nil, err
	}
	if p.peek().kind != tNewline {
		s, err := p.statement()
		if err != nil {
			return nil, err
		}
		return []stmt{s}, nil
	}
	p.next()
	if t := p.next(); t.kind != tIndent {
		return nil, p.errAt(t.line, "expected an indented block")
	}
	var out []stmt
	for {
		t := p.peek()
		if t.kind == tDedent {
			p.next()
			return out, nil
		}
		if t.kind == tEOF {
			return out, nil
		}
		if t.kind == tNewline {
			p.next()
			continue
		}
		s, err := p.statement()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
}

// expression parses a possibly unparenthesised tuple ("a, b").
func (p *parser) expression() (expr, error) {
	first, err := p.test()
	if err != nil {
		return nil, err
	}
	if !p.isOp(",") {
		return first, nil
	}
	tup := &tupleExpr{line: first.pos(), elems: []expr{first}}
	for p.isOp(",") {
		p.next()
		if p.atExprEnd() {
			break
		}
		e, err := p.test()
		if err != nil {
			return nil, err
		}
		tup.elems = append(tup.elems, e)
	}
	return tup, nil
}

func (p *parser) atExprEnd() bool {
	t := p.peek()
	if t.kind == tNewline || t.kind == tEOF {
		return true
	}
	return t.kind == tOp && (t.text == ")" || t.text == "]" || t.text == "}" || t.text == "=" || t.text == ":")
}

func (p *parser) test() (expr, error) { return p.orTest() }

func (p *parser) orTest() (expr, error) {
	l, err := p.andTest()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("or") {
		t := p.next()
		r, err := p.andTest()
		if err != nil {
			return nil, err
		}
		l = &binExpr{line: t.line, op: "or", l: l, r: r}
	}
	return l, nil
}

func (p *parser) andTest() (expr, error) {
	l, err := p.notTest()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("and") {
		t := p.next()
		r, err := p.notTest()
		if err != nil {
			return nil, err
		}
		l = &binExpr{line: t.line, op: "and", l: l, r: r}
	}
	return l, nil
}

func (p *parser) notTest() (expr, error) {
	if p.isKeyword("not") {
		t := p.next()
		x, err := p.notTest()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{line: t.line, op: "not", x: x}, nil
	}
	return p.comparison()
}

var compareOps = map[string]bool{"==": true, "!=": true, "<": true, ">": true, "<=": true, ">=": true}

func (p *parser) comparison() (expr, error) {
	l, err := p.arith()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tOp && compareOps[t.text] {
		p.next()
		r, err := p.arith()
		if err != nil {
			return nil, err
		}
		if t2 := p.peek(); t2.kind == tOp && compareOps[t2.text] {
			return nil, p.errAt(t2.line, "chained comparisons are not supported in configs")
		}
		return &binExpr{line: t.line, op: t.text, l: l, r: r}, nil
	}
	return l, nil
}

func (p *parser) arith() (expr, error) {
	l, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		t := p.next()
		r, err := p.term()
		if err != nil {
			return nil, err
		}
		l = &binExpr{line: t.line, op: t.text, l: l, r: r}
	}
	return l, nil
}

func (p *parser) term() (expr, error) {
	l, err := p.factor()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%") {
		t := p.next()
		r, err := p.factor()
		if err != nil {
			return nil, err
		}
		l = &binExpr{line: t.line, op: t.text, l: l, r: r}
	}
	return l, nil
}

func (p *parser) factor() (expr, error) {
	if p.isOp("-") || p.isOp("+") {
		t := p.next()
		x, err := p.factor()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{line: t.line, op: t.text, x: x}, nil
	}
	return p.power()
}

func (p *parser) power() (expr, error) {
	base, err := p.postfix()
	if err != nil {
		return nil, err
	}
	if p.isOp("**") {
		t := p.next()
		exp, err := p.factor() // right-associative, binds unary minus on its right
		if err != nil {
			return nil, err
		}
		return &binExpr{line: t.line, op: "**", l: base, r: exp}, nil
	}
	return base, nil
}

func (p *parser) postfix() (expr, error) {
	x, err := p.atom()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.isOp("("):
			if x, err = p.callArgs(x); err != nil {
				return nil, err
			}
		case p.isOp("."):
			t := p.next()
			n := p.next()
			if n.kind != tName {
				return nil, p.errAt(n.line, "expected attribute name after '.', found %s", n.describe())
			}
			x = &attrExpr{line: t.line, x: x, name: n.text}
		case p.isOp("["):
			t := p.next()
			idx, err := p.test()
			if err != nil {
				return nil, err
			}
			if p.isOp(":") {
				return nil, p.errAt(t.line, "slices are not supported in configs")
			}
			if _, err := p.expectOp("]"); err != nil {
				return nil, err
			}
			x = &indexExpr{line: t.line, x: x, idx: idx}
		default:
			return x, nil
		}
	}
}

func (p *parser) callArgs(fn expr) (expr, error) {
	open := p.next()
	c := &callExpr{line: open.line, fn: fn}
	for !p.isOp(")") {
		switch {
		case p.isOp("**"):
			p.next()
			v, err := p.test()
			if err != nil {
				return nil, err
			}
			c.kws = append(c.kws, keywordArg{val: v, unpack: true})
		case p.isOp("*"):
			return nil, p.errAt(p.peek().line, "*args unpacking is not supported in configs")
		case p.peek().kind == tName && p.toks[p.i+1].kind == tOp && p.toks[p.i+1].text == "=":
			name := p.next().text
			p.next()
			v, err := p.test()
			if err != nil {
				return nil, err
			}
			for _, kw := range c.kws {
				if !kw.unpack && kw.name == name {
					return nil, p.errAt(open.line, "keyword argument repeated: %s", name)
				}
			}
			c.kws = append(c.kws, keywordArg{name: name, val: v})
		default:
			if len(c.kws) > 0 {
				return nil, p.errAt(p.peek().line, "positional argument follows keyword argument")
			}
			v, err := p.test()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, v)
		}
		if p.isOp(",") {
			p.next()
			continue
		}
		if !p.isOp(")") {
			t := p.peek()
			return nil, p.errAt(t.line, "expected ',' or ')' in call, found %s", t.describe())
		}
	}
	p.next()
	return c, nil
}

func (p *parser) atom() (expr, error) {
	t := p.next()
	switch t.kind {
	case tInt:
		return &constExpr{line: t.line, val: t.ival}, nil
	case tFloat:
		return &constExpr{line: t.line, val: t.fval}, nil
	case tString:
		return &constExpr{line: t.line, val: t.text}, nil
	case tName:
		switch t.text {
		case "True":
			return &constExpr{line: t.line, val: true}, nil
		case "False":
			return &constExpr{line: t.line, val: false}, nil
		case "None":
			return &constExpr{line: t.line, val: nil}, nil
		}
		if unsupportedKeywords[t.text] || t.text == "if" || t.text == "else" || t.text == "elif" {
			return nil, p.errAt(t.line, "unexpected keyword %q", t.text)
		}
		return &nameExpr{line: t.line, name: t.text}, nil
	case tOp:
		switch t.text {
		case "(":
			return p.parenthesised(t)
		case "[":
			l := &listExpr{line: t.line}
			elems, err := p.sequence("]")
			if err != nil {
				return nil, err
			}
			l.elems = elems
			return l, nil
		case "{":
			return p.dictLiteral(t)
		}
	}
	return nil, p.errAt(t.line, "unexpected %s", t.describe())
}

func (p *parser) parenthesised(open token) (expr, error) {
	if p.isOp(")") {
		p.next()
		return &tupleExpr{line: open.line}, nil
	}
	first, err := p.test()
	if err != nil {
		return nil, err
	}
	if p.isOp(")") {
		p.next()
		return first, nil
	}
	if !p.isOp(",") {
		t := p.peek()
		return nil, p.errAt(t.line, "expected ',' or ')', found %s", t.describe())
	}
	p.next()
	rest, err := p.sequence(")")
	if err != nil {
		return nil, err
	}
	return &tupleExpr{line: open.line, elems: append([]expr{first}, rest...)}, nil
}

// sequence parses comma-separated expressions up to and including the closing bracket,
// allowing a trailing comma.
func (p *parser) sequence(closing string) ([]expr, error) {
	var out []expr
	for !p.isOp(closing) {
		e, err := p.test()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if p.isOp(",") {
			p.next()
			continue
		}
		if !p.isOp(closing) {
			t := p.peek()
			return nil, p.errAt(t.line, "expected ',' or %q, found %s", closing, t.describe())
		}
	}
	p.next()
	return out, nil
}

func (p *parser) dictLiteral(open token) (expr, error) {
	d := &dictExpr{line: open.line}
	for !p.isOp("}") {
		if p.isOp("**") {
			p.next()
			v, err := p.test()
			if err != nil {
				return nil, err
			}
			d.keys = append(d.keys, nil)
			d.vals = append(d.vals, v)
		} else {
			k, err := p.test()
			if err != nil {
				return nil, err
			}
			if _, err := p.expectOp(":"); err != nil {
				return nil, err
			}
			v, err := p.test()
			if err != nil {
				return nil, err
			}
			d.keys = append(d.keys, k)
			d.vals = append(d.vals, v)
		}
		if p.isOp(",") {
			p.next()
			continue
		}
		if !p.isOp("}") {
			t := p.peek()
			return nil, p.errAt(t.line, "expected ',' or '}' in dict, found %s", t.describe())
		}
	}
	p.next()
	return d, nil
}

// targetNames returns the names of an assignment target: one name, or a flat tuple of names.
func targetNames(x expr) ([]string, bool) {
	switch x := x.(type) {
	case *nameExpr:
		return []string{x.name}, true
	case *tupleExpr:
		var out []string
		for _, e := range x.elems {
			n, ok := e.(*nameExpr)
			if !ok {
				return nil, false
			}
			out = append(out, n.name)
		}
		return out, len(out) > 0
	}
	return nil, false
}
