package pyconf

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF tokKind = iota
	tNewline
	tIndent
	tDedent
	tName
	tInt
	tFloat
	tString
	tOp
)

func (k tokKind) String() string {
	return [...]string{"end of file", "newline", "indent", "dedent", "name", "int", "float", "string", "operator"}[k]
}

type token struct {
	kind tokKind
	text string // name, operator, or the decoded string value
	ival int
	fval float64
	line int
}

func (t token) describe() string {
	switch t.kind {
	case tName, tOp:
		return fmt.Sprintf("%q", t.text)
	case tString:
		return "string literal"
	case tInt, tFloat:
		return "number"
	default:
		return t.kind.String()
	}
}

// Error is a syntax or evaluation error located at File:Line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

type lexer struct {
	file   string
	src    string
	pos    int
	line   int
	depth  int // bracket nesting; newlines inside brackets are ignored
	indent []int
	toks   []token
	bol    bool // at beginning of a logical line
}

func lex(file, src string) ([]token, error) {
	lx := &lexer{file: file, src: src, line: 1, indent: []int{0}, bol: true}
	if err := lx.run(); err != nil {
		return nil, err
	}
	return lx.toks, nil
}

func (lx *lexer) errf(format string, a ...any) error {
	return &Error{File: lx.file, Line: lx.line, Msg: fmt.Sprintf(format, a...)}
}

func (lx *lexer) emit(t token) {
	t.line = lx.line
	lx.toks = append(lx.toks, t)
}

func (lx *lexer) run() error {
	for {
		if lx.bol && lx.depth == 0 {
			if err := lx.lineStart(); err != nil {
				return err
			}
			if lx.pos >= len(lx.src) {
				break
			}
		}
		if lx.pos >= len(lx.src) {
			break
		}
		c := lx.src[lx.pos]
		switch {
		case c == '\n':
			lx.pos++
			if lx.depth == 0 {
				lx.emit(token{kind: tNewline})
				lx.bol = true
			}
			lx.line++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			lx.pos++
		case c == '#':
			for lx.pos < len(lx.src) && lx.src[lx.pos] != '\n' {
				lx.pos++
			}
		case c == '\\':
			if lx.pos+1 < len(lx.src) && lx.src[lx.pos+1] == '\n' {
				lx.pos += 2
				lx.line++
				continue
			}
			if strings.HasPrefix(lx.src[lx.pos:], "\\\r\n") {
				lx.pos += 3
				lx.line++
				continue
			}
			return lx.errf("unexpected character '\\'")
		case isDigit(c) || (c == '.' && lx.pos+1 < len(lx.src) && isDigit(lx.src[lx.pos+1])):
			if err := lx.number(); err != nil {
				return err
			}
		case isIdentStart(c):
			start := lx.pos
			for lx.pos < len(lx.src) && isIdentPart(lx.src[lx.pos]) {
				lx.pos++
			}
			word := lx.src[start:lx.pos]
			if lx.pos < len(lx.src) && (lx.src[lx.pos] == '\'' || lx.src[lx.pos] == '"') && isStringPrefix(word) {
				if err := lx.str(strings.ContainsAny(word, "rR"), word); err != nil {
					return err
				}
				continue
			}
			lx.emit(token{kind: tName, text: word})
		case c == '\'' || c == '"':
			if err := lx.str(false, ""); err != nil {
				return err
			}
		default:
			if err := lx.op(); err != nil {
				return err
			}
		}
	}
	if n := len(lx.toks); n > 0 && lx.toks[n-1].kind != tNewline {
		lx.emit(token{kind: tNewline})
	}
	for len(lx.indent) > 1 {
		lx.indent = lx.indent[:len(lx.indent)-1]
		lx.emit(token{kind: tDedent})
	}
	lx.emit(token{kind: tEOF})
	return nil
}

// lineStart measures the indentation of the next non-blank, non-comment line and emits
// INDENT/DEDENT tokens.
func (lx *lexer) lineStart() error {
	for lx.pos < len(lx.src) {
		col := 0
		p := lx.pos
		for p < len(lx.src) && (lx.src[p] == ' ' || lx.src[p] == '\t') {
			if lx.src[p] == '\t' {
				col = (col/8 + 1) * 8
			} else {
				col++
			}
			p++
		}
		if p < len(lx.src) && (lx.src[p] == '\n' || lx.src[p] == '#' || lx.src[p] == '\r') {
			for p < len(lx.src) && lx.src[p] != '\n' {
				p++
			}
			if p < len(lx.src) {
				p++
				lx.line++
			}
			lx.pos = p
			continue
		}
		lx.pos = p
		if p >= len(lx.src) {
			return nil
		}
		lx.bol = false
		top := lx.indent[len(lx.indent)-1]
		switch {
		case col > top:
			lx.indent = append(lx.indent, col)
			lx.emit(token{kind: tIndent})
		case col < top:
			for col < lx.indent[len(lx.indent)-1] {
				lx.indent = lx.indent[:len(lx.indent)-1]
				lx.emit(token{kind: tDedent})
			}
			if col != lx.indent[len(lx.indent)-1] {
				return lx.errf("unindent does not match any outer indentation level")
			}
		}
		return nil
	}
	return nil
}

func (lx *lexer) number() error {
	start := lx.pos
	s := lx.src
	isFloat := false
	if strings.HasPrefix(s[lx.pos:], "0x") || strings.HasPrefix(s[lx.pos:], "0X") ||
		strings.HasPrefix(s[lx.pos:], "0o") || strings.HasPrefix(s[lx.pos:], "0O") ||
		strings.HasPrefix(s[lx.pos:], "0b") || strings.HasPrefix(s[lx.pos:], "0B") {
		lx.pos += 2
		for lx.pos < len(s) && (isHex(s[lx.pos]) || s[lx.pos] == '_') {
			lx.pos++
		}
	} else {
		for lx.pos < len(s) && (isDigit(s[lx.pos]) || s[lx.pos] == '_') {
			lx.pos++
		}
		if lx.pos < len(s) && s[lx.pos] == '.' {
			isFloat = true
			lx.pos++
			for lx.pos < len(s) && (isDigit(s[lx.pos]) || s[lx.pos] == '_') {
				lx.pos++
			}
		}
		if lx.pos < len(s) && (s[lx.pos] == 'e' || s[lx.pos] == 'E') {
			p := lx.pos + 1
			if p < len(s) && (s[p] == '+' || s[p] == '-') {
				p++
			}
			if p < len(s) && isDigit(s[p]) {
				isFloat = true
				lx.pos = p
				for lx.pos < len(s) && (isDigit(s[lx.pos]) || s[lx.pos] == '_') {
					lx.pos++
				}
			}
		}
	}
	text := s[start:lx.pos]
	if lx.pos < len(s) && (isIdentStart(s[lx.pos]) || s[lx.pos] == '.') {
		return lx.errf("invalid number literal %q", s[start:lx.pos+1])
	}
	if isFloat {
		f, err := strconv.ParseFloat(strings.ReplaceAll(text, "_", ""), 64)
		if err != nil {
			return lx.errf("invalid float literal %q", text)
		}
		lx.emit(token{kind: tFloat, text: text, fval: f})
		return nil
	}
	if len(text) > 1 && text[0] == '0' && isDigit(text[1]) && strings.Trim(text, "0_") != "" {
		return lx.errf("leading zeros in decimal integer literal %q are not permitted", text)
	}
	n, err := strconv.ParseInt(text, 0, 64)
	if err != nil {
		return lx.errf("integer literal %q: %v", text, err)
	}
	lx.emit(token{kind: tInt, text: text, ival: int(n)})
	return nil
}

func (lx *lexer) str(raw bool, prefix string) error {
	if strings.ContainsAny(prefix, "bBfF") {
		return lx.errf("%s-strings are not supported in configs", prefix)
	}
	s := lx.src
	q := s[lx.pos]
	triple := strings.HasPrefix(s[lx.pos:], strings.Repeat(string(q), 3))
	startLine := lx.line
	if triple {
		lx.pos += 3
	} else {
		lx.pos++
	}
	var b strings.Builder
	for {
		if lx.pos >= len(s) {
			lx.line = startLine
			return lx.errf("unterminated string literal")
		}
		c := s[lx.pos]
		if triple && strings.HasPrefix(s[lx.pos:], strings.Repeat(string(q), 3)) {
			lx.pos += 3
			break
		}
		if !triple && c == q {
			lx.pos++
			break
		}
		if c == '\n' {
			if !triple {
				lx.line = startLine
				return lx.errf("unterminated string literal")
			}
			lx.line++
		}
		if c == '\\' && lx.pos+1 < len(s) {
			if raw {
				// A raw string keeps the backslash, and it still cannot end on an escaped quote.
				b.WriteByte('\\')
				b.WriteByte(s[lx.pos+1])
				if s[lx.pos+1] == '\n' {
					lx.line++
				}
				lx.pos += 2
				continue
			}
			if err := lx.escape(&b); err != nil {
				return err
			}
			continue
		}
		b.WriteByte(c)
		lx.pos++
	}
	t := token{kind: tString, text: b.String()}
	t.line = startLine
	// Adjacent literals concatenate, as in Python.
	if n := len(lx.toks); n > 0 && lx.toks[n-1].kind == tString {
		lx.toks[n-1].text += t.text
		return nil
	}
	lx.toks = append(lx.toks, t)
	return nil
}

// escape decodes one backslash escape at lx.pos into b, as Python does for str literals:
// unknown escapes keep their backslash ('\d' stays "\d").
func (lx *lexer) escape(b *strings.Builder) error {
	s := lx.src
	c := s[lx.pos+1]
	lx.pos += 2
	switch c {
	case '\n':
		lx.line++
	case '\\', '\'', '"':
		b.WriteByte(c)
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case 'a':
		b.WriteByte('\a')
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'v':
		b.WriteByte('\v')
	case '0', '1', '2', '3', '4', '5', '6', '7':
		n := int(c - '0')
		for i := 0; i < 2 && lx.pos < len(s) && s[lx.pos] >= '0' && s[lx.pos] <= '7'; i++ {
			n = n*8 + int(s[lx.pos]-'0')
			lx.pos++
		}
		b.WriteRune(rune(n))
	case 'x', 'u', 'U':
		width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
		if lx.pos+width > len(s) {
			return lx.errf("truncated \\%c escape", c)
		}
		n, err := strconv.ParseUint(s[lx.pos:lx.pos+width], 16, 32)
		if err != nil || !utf8.ValidRune(rune(n)) {
			return lx.errf("invalid \\%c escape %q", c, s[lx.pos:lx.pos+width])
		}
		b.WriteRune(rune(n))
		lx.pos += width
	default:
		b.WriteByte('\\')
		b.WriteByte(c)
	}
	return nil
}

var ops3 = []string{"**=", "//="}
var ops2 = []string{"**", "//", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/="}

func (lx *lexer) op() error {
	rest := lx.src[lx.pos:]
	for _, group := range [][]string{ops3, ops2} {
		for _, o := range group {
			if strings.HasPrefix(rest, o) {
				lx.pos += len(o)
				lx.emit(token{kind: tOp, text: o})
				return nil
			}
		}
	}
	c := rest[0]
	switch c {
	case '(', '[', '{':
		lx.depth++
	case ')', ']', '}':
		if lx.depth == 0 {
			return lx.errf("unmatched %q", string(c))
		}
		lx.depth--
	case '+', '-', '*', '/', '%', '=', ',', ':', '.', '<', '>':
	default:
		r, _ := utf8.DecodeRuneInString(rest)
		return lx.errf("unexpected character %q", r)
	}
	lx.pos++
	lx.emit(token{kind: tOp, text: string(c)})
	return nil
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isHex(c byte) bool        { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }
func isIdentStart(c byte) bool { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }

func isStringPrefix(w string) bool {
	switch strings.ToLower(w) {
	case "r", "u", "b", "f", "br", "rb", "fr", "rf":
		return true
	}
	return false
}
