package pyconf

type expr interface{ pos() int }

type (
	constExpr struct {
		line int
		val  any // int, float64, string, bool or nil
	}
	nameExpr struct {
		line int
		name string
	}
	listExpr struct {
		line  int
		elems []expr
	}
	tupleExpr struct {
		line  int
		elems []expr
	}
	dictExpr struct {
		line int
		keys []expr // nil key: **unpack of vals[i]
		vals []expr
	}
	callExpr struct {
		line int
		fn   expr
		args []expr
		kws  []keywordArg
	}
	keywordArg struct {
		name   string // empty for **unpack
		val    expr
		unpack bool
	}
	attrExpr struct {
		line int
		x    expr
		name string
	}
	indexExpr struct {
		line int
		x    expr
		idx  expr
	}
	binExpr struct {
		line int
		op   string
		l, r expr
	}
	unaryExpr struct {
		line int
		op   string // "-", "+", "not"
		x    expr
	}
)

func (e *constExpr) pos() int { return e.line }
func (e *nameExpr) pos() int  { return e.line }
func (e *listExpr) pos() int  { return e.line }
func (e *tupleExpr) pos() int { return e.line }
func (e *dictExpr) pos() int  { return e.line }
func (e *callExpr) pos() int  { return e.line }
func (e *attrExpr) pos() int  { return e.line }
func (e *indexExpr) pos() int { return e.line }
func (e *binExpr) pos() int   { return e.line }
func (e *unaryExpr) pos() int { return e.line }

type stmt interface{ pos() int }

type (
	assignStmt struct {
		line    int
		targets [][]string // a = b = expr assigns every target; (a, b) = ... unpacks
		val     expr
	}
	exprStmt struct {
		line int
		x    expr
	}
	ifStmt struct {
		line  int
		cond  expr
		body  []stmt
		other []stmt // elif chains are nested ifStmts here
	}
	passStmt struct{ line int }
)

func (s *assignStmt) pos() int { return s.line }
func (s *exprStmt) pos() int   { return s.line }
func (s *ifStmt) pos() int     { return s.line }
func (s *passStmt) pos() int   { return s.line }
