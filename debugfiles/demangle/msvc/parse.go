package msvc

import (
	"strconv"
	"strings"
)

const (
	// maxDepth bounds recursion. Real names nest templates a few dozen
	// levels at most; each level costs a handful of frames.
	maxDepth = 400
	// backrefMax is the size of both back-reference tables ('0'…'9').
	backrefMax = 10
)

// budgetFor is how many bytes the rendered output and all text rendered for
// back-references of one name may take. Real names expand at most a few
// times (a one-character back-reference stands for a whole type), so the
// factor leaves ample room while keeping memory linear in the input.
func budgetFor(n int) int { return 4096 + 128*n }

// errTooLong is the reason given when the output or its nesting exceeds the
// budget.
const errTooLong = "demangled name too long or too deeply nested"

// backrefs are the two tables a name's later parts refer back to: names
// ('0'…'9' where a name is expected) and function parameter types ('0'…'9'
// in a parameter list). A template argument list starts fresh ones.
type backrefs struct {
	names   [backrefMax]string
	nNames  int
	params  [backrefMax]typeNode
	nParams int
}

// parser decodes one decorated name. Every method reads at pos and
// advances past what it decoded; the first error is latched in err, and
// callers check it once after a run of reads, as debug/dwarf's buf does.
type parser struct {
	in     string // the whole decorated name
	pos    int
	err    *Error
	depth  int
	budget int // bytes left for rendering
	br     backrefs
}

// init readies p to decode name.
func (p *parser) init(name string) {
	*p = parser{in: name, budget: budgetFor(len(name))}
}

// fail records the first error, at the current position; later ones are
// consequences of it.
func (p *parser) fail(reason string) { p.failAt(p.pos, reason) }

// failAt records the first error at offset off, the byte found wanting.
func (p *parser) failAt(off int, reason string) {
	if p.err == nil {
		p.err = &Error{Name: p.in, Offset: min(off, len(p.in)), Reason: reason}
	}
}

func (p *parser) rest() string { return p.in[p.pos:] }
func (p *parser) empty() bool  { return p.pos >= len(p.in) }

func (p *parser) peek() byte {
	if p.pos < len(p.in) {
		return p.in[p.pos]
	}
	return 0
}

func (p *parser) next() byte {
	c := p.peek()
	if p.pos < len(p.in) {
		p.pos++
	}
	return c
}

func (p *parser) has(s string) bool { return strings.HasPrefix(p.in[p.pos:], s) }

func (p *parser) eat(c byte) bool {
	if p.pos < len(p.in) && p.in[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *parser) eatStr(s string) bool {
	if p.has(s) {
		p.pos += len(s)
		return true
	}
	return false
}

func (p *parser) startsWithDigit() bool {
	c := p.peek()
	return c >= '0' && c <= '9'
}

// enter guards recursion; every call that returns true must be paired with
// leave.
func (p *parser) enter() bool {
	p.depth++
	if p.depth > maxDepth {
		p.fail("name nested too deeply")
		return false
	}
	return true
}

func (p *parser) leave() { p.depth-- }

// render renders n into a string charged against the budget, for names that
// are remembered as text (template back-references, local scopes).
func (p *parser) render(n node) string {
	w := writer{limit: p.budget}
	n.write(&w, 0)
	if w.over {
		p.fail(errTooLong)
		return ""
	}
	p.budget -= len(w.buf)
	return string(w.buf)
}

// parse decodes one symbol: the whole input, or a symbol nested in a local
// scope or a template argument.
func (p *parser) parse() symbol {
	if !p.enter() {
		return nil
	}
	defer p.leave()
	switch {
	case p.has("."):
		return p.typeinfoName()
	case p.has("??@"):
		return p.md5Name()
	case !p.eat('?'):
		p.fail("decorated names start with '?'")
		return nil
	}
	if sym, special := p.specialIntrinsic(); special {
		if p.err != nil {
			return nil
		}
		return sym
	}
	return p.declarator()
}

// typeinfoName decodes ".?AVC@@", the type name string stored in RTTI data.
func (p *parser) typeinfoName() symbol {
	p.eat('.')
	t := p.typ(modeResult)
	if p.err != nil {
		return nil
	}
	if !p.empty() {
		p.fail("unexpected characters after type name")
		return nil
	}
	return &varSym{name: synthName("`RTTI Type Descriptor Name'"), typ: t, synthetic: true}
}

// md5Name is "??@<32 hex digits>@", optionally followed by "??_R4@" for a
// complete object locator; it cannot be decoded and prints as itself.
func (p *parser) md5Name() symbol {
	end := strings.IndexByte(p.in[p.pos+3:], '@')
	if end < 0 {
		p.pos = len(p.in)
		p.fail("unterminated MD5 name")
		return nil
	}
	start := p.pos
	p.pos += 3 + end + 1
	p.eatStr("??_R4@")
	return &md5Sym{name: p.in[start:p.pos]}
}

func synthName(s string) *qname { return &qname{parts: []ident{&namedID{name: s}}} }

// specialIntrinsic decodes the "??_" names that are not functions or
// variables in the ordinary sense. special is false when the name is not one
// of them.
func (p *parser) specialIntrinsic() (sym symbol, special bool) {
	switch {
	case p.eatStr("?_7"):
		return p.specialTable("`vftable'"), true
	case p.eatStr("?_8"):
		return p.specialTable("`vbtable'"), true
	case p.eatStr("?_9"):
		return p.vcallThunk(), true
	case p.eatStr("?_A"):
		p.fail("typeof names are not supported")
		return nil, true
	case p.eatStr("?_B"):
		return p.localStaticGuard(false), true
	case p.eatStr("?_C"):
		return p.stringLiteral(), true
	case p.eatStr("?_P"):
		p.fail("udt returning names are not supported")
		return nil, true
	case p.eatStr("?_R0"):
		t := p.typ(modeResult)
		if p.err != nil {
			return nil, true
		}
		if !p.eatStr("@8") || !p.empty() {
			p.fail("RTTI type descriptor must end in @8")
			return nil, true
		}
		return &varSym{name: synthName("`RTTI Type Descriptor'"), typ: t, synthetic: true}, true
	case p.eatStr("?_R1"):
		return p.rttiBaseClassDescriptor(), true
	case p.eatStr("?_R2"):
		return p.untypedVariable("`RTTI Base Class Array'"), true
	case p.eatStr("?_R3"):
		return p.untypedVariable("`RTTI Class Hierarchy Descriptor'"), true
	case p.eatStr("?_R4"):
		return p.specialTable("`RTTI Complete Object Locator'"), true
	case p.eatStr("?_S"):
		return p.specialTable("`local vftable'"), true
	case p.eatStr("?__E"):
		return p.initFiniStub(false), true
	case p.eatStr("?__F"):
		return p.initFiniStub(true), true
	case p.eatStr("?__J"):
		return p.localStaticGuard(true), true
	}
	return nil, false
}

func (p *parser) specialTable(name string) symbol {
	qn := p.nameScopeChain(&namedID{name: name})
	if p.err != nil {
		return nil
	}
	if c := p.next(); c != '6' && c != '7' {
		p.fail("expected 6 or 7 after a table name")
		return nil
	}
	q, _ := p.qualifiers()
	s := &tableSym{name: qn, q: q}
	if !p.eat('@') {
		s.target = p.fullyQualifiedTypeName()
	}
	if p.err != nil {
		return nil
	}
	return s
}

func (p *parser) vcallThunk() symbol {
	id := &vcallID{}
	name := p.nameScopeChain(id)
	if p.err == nil && !p.eatStr("$B") {
		p.fail("expected $B in vcall thunk")
	}
	if p.err == nil {
		id.offset = p.unsigned()
	}
	if p.err == nil && !p.eat('A') {
		p.fail("expected A in vcall thunk")
	}
	sig := &funcSig{fc: fcNoParams, thunk: &thisAdjust{}}
	if p.err == nil {
		sig.cc = p.callingConvention()
	}
	if p.err != nil {
		return nil
	}
	return &funcSym{name: name, sig: sig}
}

func (p *parser) localStaticGuard(thread bool) symbol {
	id := &guardID{thread: thread}
	name := p.nameScopeChain(id)
	if p.err != nil {
		return nil
	}
	if !p.eatStr("4IA") && !p.eat('5') {
		p.fail("expected 4IA or 5 after a guard name")
		return nil
	}
	if !p.empty() {
		id.scope = uint32(p.unsigned())
	}
	if p.err != nil {
		return nil
	}
	return &guardSym{name: name}
}

func (p *parser) untypedVariable(name string) symbol {
	qn := p.nameScopeChain(&namedID{name: name})
	if p.err != nil {
		return nil
	}
	if !p.eat('8') {
		p.fail("expected 8 after RTTI name")
		return nil
	}
	return &varSym{name: qn}
}

func (p *parser) rttiBaseClassDescriptor() symbol {
	id := &rttiBCDID{}
	id.nvOffset = uint32(p.unsigned())
	id.vbptrOffset = int32(p.signed())
	id.vbtableOffset = uint32(p.unsigned())
	id.flags = uint32(p.unsigned())
	if p.err != nil {
		return nil
	}
	qn := p.nameScopeChain(id)
	if p.err != nil {
		return nil
	}
	p.eat('8')
	return &varSym{name: qn}
}

// initFiniStub decodes "??__E" (dynamic initializer) and "??__F" (atexit
// destructor) of a variable or a function-like name.
func (p *parser) initFiniStub(dtor bool) symbol {
	id := &dynStructorID{dtor: dtor}
	staticMember := p.eat('?')
	sym := p.declarator()
	if p.err != nil {
		return nil
	}
	switch s := sym.(type) {
	case *varSym:
		id.variable = s
		// Older clang wrote no leading '?' and a single '@'; the correct form
		// has both and two '@'.
		ats := 1
		if staticMember {
			ats = 2
		}
		for range ats {
			if !p.eat('@') {
				p.fail("expected @ after variable in initializer name")
				return nil
			}
		}
		fn := p.functionEncoding()
		if p.err != nil {
			return nil
		}
		fn.name = &qname{parts: []ident{id}}
		return fn
	case *funcSym:
		if staticMember {
			p.fail("static data member initializer names a function")
			return nil
		}
		id.name = s.name
		s.name = &qname{parts: []ident{id}}
		return s
	}
	p.fail("bad initializer name")
	return nil
}

// declarator decodes a qualified name and the encoding of what it names.
func (p *parser) declarator() symbol {
	qn := p.fullyQualifiedSymbolName()
	if p.err != nil {
		return nil
	}
	sym := p.encodedSymbol(qn)
	if p.err != nil {
		return nil
	}
	if c, ok := qn.last().(*conversionID); ok && c.target == nil {
		p.fail("conversion operator without a target type")
		return nil
	}
	return sym
}

func (p *parser) encodedSymbol(qn *qname) symbol {
	if p.empty() {
		p.fail("missing type encoding")
		return nil
	}
	if c := p.peek(); c >= '0' && c <= '4' {
		p.pos++
		v := p.variableEncoding(storageClass(c-'0') + scPrivateStatic)
		if v != nil {
			v.name = qn
			return v
		}
		return nil
	}
	fn := p.functionEncoding()
	if fn == nil {
		return nil
	}
	fn.name = qn
	if c, ok := qn.last().(*conversionID); ok {
		c.target = fn.sig.ret
	}
	return fn
}

func (p *parser) variableEncoding(sc storageClass) *varSym {
	t := p.typ(modeDrop)
	if p.err != nil {
		return nil
	}
	if pt, ok := t.(*ptrType); ok {
		pt.q |= p.pointerExtQualifiers()
		extra, _ := p.qualifiers()
		if pt.class != nil {
			p.fullyQualifiedTypeName() // repeats the class; only its back-reference counts
		}
		*pt.pointee.quals() |= extra
	} else {
		q, _ := p.qualifiers()
		*t.quals() = q
	}
	if p.err != nil {
		return nil
	}
	return &varSym{typ: t, sc: sc}
}

func (p *parser) functionEncoding() *funcSym {
	var extra funcClass
	if p.eatStr("$$J0") {
		extra = fcExternC
	}
	if p.empty() {
		p.fail("missing function class")
		return nil
	}
	fc := p.functionClass() | extra
	var adj *thisAdjust
	switch {
	case fc&fcStaticThisAdjust != 0:
		adj = &thisAdjust{static: uint32(p.signed())}
	case fc&fcVirtualThisAdjust != 0:
		adj = &thisAdjust{}
		if fc&fcVirtualThisAdjustEx != 0 {
			adj.vbptr = int32(p.signed())
			adj.vboffset = int32(p.signed())
		}
		adj.vtordisp = int32(p.signed())
		adj.static = uint32(p.signed())
	}
	var sig *funcSig
	if fc&fcNoParams != 0 {
		sig = &funcSig{}
	} else {
		sig = p.functionType(fc&(fcGlobal|fcStatic) == 0)
	}
	if p.err != nil {
		return nil
	}
	sig.thunk = adj
	sig.fc = fc
	return &funcSym{sig: sig}
}

// functionClass decodes the letter after a function's name: access, static,
// virtual, thunk kind.
func (p *parser) functionClass() funcClass {
	start := p.pos
	c := p.next()
	switch {
	case c == '9':
		return fcExternC | fcNoParams
	case c >= 'A' && c <= 'X':
		i := c - 'A'
		fc := [...]funcClass{fcPrivate, fcProtected, fcPublic}[i/8]
		switch i % 8 / 2 {
		case 1:
			fc |= fcStatic
		case 2:
			fc |= fcVirtual
		case 3:
			if i/8 == 0 {
				fc |= fcStaticThisAdjust // G, H: private adjustor thunks
			} else {
				fc |= fcVirtual | fcStaticThisAdjust
			}
		}
		if i%2 == 1 {
			fc |= fcFar
		}
		return fc
	case c == 'Y':
		return fcGlobal
	case c == 'Z':
		return fcGlobal | fcFar
	case c == '$':
		v := fcVirtualThisAdjust
		if p.eat('R') {
			v |= fcVirtualThisAdjustEx
		}
		d := p.next()
		if d >= '0' && d <= '5' {
			fc := [...]funcClass{fcPrivate, fcProtected, fcPublic}[(d-'0')/2] | fcVirtual | v
			if (d-'0')%2 == 1 {
				fc |= fcFar
			}
			return fc
		}
	}
	p.failAt(start, "bad function class")
	return fcPublic
}

func (p *parser) callingConvention() callConv {
	if p.empty() {
		p.fail("missing calling convention")
		return ccNone
	}
	switch p.next() {
	case 'A', 'B':
		return ccCdecl
	case 'C', 'D':
		return ccPascal
	case 'E', 'F':
		return ccThiscall
	case 'G', 'H':
		return ccStdcall
	case 'I', 'J':
		return ccFastcall
	case 'M', 'N':
		return ccClrcall
	case 'O', 'P':
		return ccEabi
	case 'Q':
		return ccVectorcall
	case 'S':
		return ccSwift
	case 'W':
		return ccSwiftAsync
	}
	return ccNone
}

// qualifiers decodes a cv-qualifier letter: A–D for ordinary types, Q–T
// for members.
func (p *parser) qualifiers() (q qual, member bool) {
	if p.empty() {
		p.fail("missing qualifiers")
		return 0, false
	}
	c := p.next()
	switch {
	case c >= 'A' && c <= 'D':
		return qual(c-'A') & (qConst | qVolatile), false
	case c >= 'Q' && c <= 'T':
		return qual(c-'Q') & (qConst | qVolatile), true
	}
	p.failAt(p.pos-1, "bad qualifiers")
	return 0, false
}

func (p *parser) pointerExtQualifiers() qual {
	var q qual
	if p.eat('E') {
		q |= qPtr64
	}
	if p.eat('I') {
		q |= qRestrict
	}
	if p.eat('F') {
		q |= qUnaligned
	}
	return q
}

// qualMode says how a type's own cv-qualifiers are written.
type qualMode uint8

const (
	modeDrop   qualMode = iota // not written (parameters, variables)
	modeMangle                 // always written (pointees)
	modeResult                 // written after '?' when present (return types)
)

func (p *parser) typ(mode qualMode) typeNode {
	if !p.enter() {
		return nil
	}
	defer p.leave()
	var q qual
	switch mode {
	case modeMangle:
		q, _ = p.qualifiers()
	case modeResult:
		if p.eat('?') {
			q, _ = p.qualifiers()
		}
	}
	if p.empty() {
		p.fail("missing type")
		return nil
	}
	var t typeNode
	switch c := p.peek(); {
	case c >= 'T' && c <= 'W':
		t = p.classType()
	case p.isPointerType():
		member, ok := p.isMemberPointer()
		switch {
		case !ok:
			p.fail("bad pointer type")
			return nil
		case member:
			t = p.memberPointerType()
		default:
			t = p.pointerType()
		}
	case c == 'Y':
		t = p.arrayType()
	case p.eatStr("$$A8@@"):
		t = p.functionType(true)
	case p.eatStr("$$A6"):
		t = p.functionType(false)
	case c == '?':
		t = p.customType()
	default:
		t = p.primitiveType()
	}
	if t == nil || p.err != nil {
		return nil
	}
	*t.quals() |= q
	return t
}

func (p *parser) isPointerType() bool {
	switch p.peek() {
	case 'A', 'P', 'Q', 'R', 'S':
		return true
	}
	return p.has("$$Q")
}

// isMemberPointer looks ahead past a pointer's letter to tell member
// pointers (8 for functions, Q–T qualifiers for data) from plain ones.
func (p *parser) isMemberPointer() (member, ok bool) {
	s := p.rest()
	switch s[0] {
	case '$', 'A':
		return false, true
	}
	s = s[1:]
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		switch s[0] {
		case '6':
			return false, true
		case '8':
			return true, true
		}
		return false, false
	}
	for _, c := range []byte("EIF") {
		if s != "" && s[0] == c {
			s = s[1:]
		}
	}
	if s == "" {
		return false, false
	}
	switch s[0] {
	case 'A', 'B', 'C', 'D':
		return false, true
	case 'Q', 'R', 'S', 'T':
		return true, true
	}
	return false, false
}

func (p *parser) pointerCVQualifiers() (qual, affinity) {
	if p.eatStr("$$Q") {
		return 0, affRValueRef
	}
	switch p.next() {
	case 'A':
		return 0, affRef
	case 'Q':
		return qConst, affPointer
	case 'R':
		return qVolatile, affPointer
	case 'S':
		return qConst | qVolatile, affPointer
	}
	return 0, affPointer // 'P'
}

func (p *parser) pointerType() typeNode {
	t := &ptrType{}
	t.q, t.aff = p.pointerCVQualifiers()
	if p.eat('6') {
		t.pointee = p.functionType(false)
	} else {
		t.q |= p.pointerExtQualifiers()
		t.pointee = p.typ(modeMangle)
	}
	if p.err != nil {
		return nil
	}
	return t
}

func (p *parser) memberPointerType() typeNode {
	t := &ptrType{}
	t.q, t.aff = p.pointerCVQualifiers()
	t.q |= p.pointerExtQualifiers()
	if p.eat('8') {
		t.class = p.fullyQualifiedTypeName()
		if p.err == nil {
			t.pointee = p.functionType(true)
		}
	} else {
		q, _ := p.qualifiers()
		t.class = p.fullyQualifiedTypeName()
		if p.err == nil {
			t.pointee = p.typ(modeDrop)
		}
		if t.pointee != nil {
			*t.pointee.quals() = q
		}
	}
	if p.err != nil {
		return nil
	}
	return t
}

func (p *parser) functionType(thisQuals bool) *funcSig {
	sig := &funcSig{fc: fcGlobal}
	if thisQuals {
		sig.q = p.pointerExtQualifiers()
		if p.eat('G') {
			sig.ref = refLValue
		} else if p.eat('H') {
			sig.ref = refRValue
		}
		q, _ := p.qualifiers()
		sig.q |= q
	}
	sig.cc = p.callingConvention()
	if !p.eat('@') { // '@': a structor, which has no return type
		sig.ret = p.typ(modeResult)
	}
	sig.params, sig.hasList, sig.variadic = p.parameterList()
	if p.eatStr("_E") {
		sig.noexcept = true
	} else if !p.eat('Z') {
		p.fail("expected Z or _E after parameters")
	}
	if p.err != nil {
		return nil
	}
	return sig
}

func (p *parser) parameterList() (list []typeNode, hasList, variadic bool) {
	if p.eat('X') {
		return nil, false, false
	}
	for p.err == nil && p.peek() != '@' && p.peek() != 'Z' {
		if p.startsWithDigit() {
			i := int(p.peek() - '0')
			if i >= p.br.nParams {
				p.fail("parameter back-reference out of range")
				return nil, false, false
			}
			p.pos++
			list = append(list, p.br.params[i])
			continue
		}
		start := p.pos
		t := p.typ(modeDrop)
		if t == nil || p.err != nil {
			p.fail("bad parameter type")
			return nil, false, false
		}
		list = append(list, t)
		// One-letter types are not remembered: a back-reference would not
		// be shorter.
		if p.br.nParams < backrefMax && p.pos-start > 1 {
			p.br.params[p.br.nParams] = t
			p.br.nParams++
		}
	}
	if p.err != nil {
		return nil, false, false
	}
	if p.eat('@') {
		return list, true, false
	}
	p.eat('Z')
	return list, true, true
}

func (p *parser) customType() typeNode {
	p.eat('?')
	id := p.unqualifiedTypeName(true)
	if p.err == nil && !p.eat('@') {
		p.fail("expected @ after custom type")
	}
	if p.err != nil {
		return nil
	}
	return &customType{id: id}
}

var primByLetter = [26]primKind{
	'C' - 'A': pSchar, 'D' - 'A': pChar, 'E' - 'A': pUchar, 'F' - 'A': pShort,
	'G' - 'A': pUshort, 'H' - 'A': pInt, 'I' - 'A': pUint, 'J' - 'A': pLong,
	'K' - 'A': pUlong, 'M' - 'A': pFloat, 'N' - 'A': pDouble, 'O' - 'A': pLdouble,
	'X' - 'A': pVoid,
}

// underscorePrims are the types spelled '_' and a letter.
var underscorePrims = map[byte]primKind{
	'N': pBool, 'J': pInt64, 'K': pUint64, 'W': pWchar, 'Q': pChar8, 'S': pChar16, 'U': pChar32,
}

func (p *parser) primitiveType() typeNode {
	start := p.pos
	if p.eatStr("$$T") {
		return &primType{kind: pNullptr}
	}
	switch c := p.next(); c {
	case 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'M', 'N', 'O', 'X':
		return &primType{kind: primByLetter[c-'A']}
	case '_':
		if k, ok := underscorePrims[p.next()]; ok {
			return &primType{kind: k}
		}
	}
	p.failAt(start, "unknown type")
	return nil
}

func (p *parser) classType() typeNode {
	t := &tagType{}
	switch p.next() {
	case 'T':
		t.tag = tagUnion
	case 'U':
		t.tag = tagStruct
	case 'V':
		t.tag = tagClass
	case 'W':
		if !p.eat('4') {
			p.fail("expected 4 after W (enum)")
			return nil
		}
		t.tag = tagEnum
	}
	t.name = p.fullyQualifiedTypeName()
	if p.err != nil {
		return nil
	}
	return t
}

func (p *parser) arrayType() typeNode {
	p.eat('Y')
	rank, neg := p.number()
	if p.err != nil || neg || rank == 0 {
		p.fail("bad array rank")
		return nil
	}
	t := &arrType{}
	for i := uint64(0); i < rank; i++ {
		d, neg := p.number()
		if p.err != nil || neg {
			p.fail("bad array dimension")
			return nil
		}
		t.dims = append(t.dims, d)
	}
	if p.eatStr("$$C") {
		q, member := p.qualifiers()
		if member {
			p.fail("member qualifiers on an array")
			return nil
		}
		t.q = q
	}
	t.elem = p.typ(modeDrop)
	if p.err != nil {
		return nil
	}
	return t
}

// number decodes <number> ::= [?] (<digit> | <hex digits A–P>* @); a digit
// d stands for d+1.
func (p *parser) number() (v uint64, neg bool) {
	neg = p.eat('?')
	if p.startsWithDigit() {
		return uint64(p.next()-'0') + 1, neg
	}
	i := p.pos
	for ; i < len(p.in); i++ {
		c := p.in[i]
		if c == '@' {
			p.pos = i + 1
			return v, neg
		}
		if c < 'A' || c > 'P' {
			break
		}
		v = v<<4 | uint64(c-'A')
	}
	p.failAt(i, "bad number: expected a digit or hex digits A-P ending in @")
	return 0, false
}

func (p *parser) unsigned() uint64 {
	v, neg := p.number()
	if neg {
		p.fail("negative number")
	}
	return v
}

func (p *parser) signed() int64 {
	v, neg := p.number()
	if v > 1<<63-1 {
		p.fail("number out of range")
	}
	if neg {
		return -int64(v)
	}
	return int64(v)
}

// memorize remembers a name for back-references, once, up to ten.
func (p *parser) memorize(s string) {
	if p.br.nNames >= backrefMax {
		return
	}
	for _, n := range p.br.names[:p.br.nNames] {
		if n == s {
			return
		}
	}
	p.br.names[p.br.nNames] = s
	p.br.nNames++
}

func (p *parser) backrefName() ident {
	i := int(p.peek() - '0')
	if i >= p.br.nNames {
		p.fail("name back-reference out of range")
		return nil
	}
	p.pos++
	return &namedID{name: p.br.names[i]}
}

// simpleString reads a name up to its terminating '@'.
func (p *parser) simpleString(memorize bool) string {
	end := strings.IndexByte(p.rest(), '@')
	if end <= 0 {
		p.fail("expected a name ending in @")
		return ""
	}
	s := p.in[p.pos : p.pos+end]
	p.pos += end + 1
	if memorize {
		p.memorize(s)
	}
	return s
}

func (p *parser) simpleName(memorize bool) ident {
	s := p.simpleString(memorize)
	if p.err != nil {
		return nil
	}
	return &namedID{name: s}
}

// Which names a template instantiation adds to the back-reference table.
const (
	nbbTemplate = 1 << iota // the rendered instantiation, for types and scopes
	nbbSimple               // the plain name, for symbol names
)

func (p *parser) templateInstantiationName(nbb int) ident {
	if !p.enter() {
		return nil
	}
	defer p.leave()
	p.eatStr("?$")
	outer := p.br
	p.br = backrefs{}
	id := p.unqualifiedSymbolName(nbbSimple)
	if p.err == nil {
		b := id.base()
		b.targs = p.templateParameterList()
		b.hasTargs = true
	}
	p.br = outer
	if p.err != nil {
		return nil
	}
	if nbb&nbbTemplate != 0 {
		switch id.(type) {
		case *conversionID, *structorID:
			p.fail("structor or conversion operator used as a type name")
			return nil
		}
		s := p.render(id)
		if p.err != nil {
			return nil
		}
		p.memorize(s)
	}
	return id
}

func (p *parser) templateParameterList() []node {
	var list []node
	for p.err == nil && p.peek() != '@' {
		if p.eatStr("$S") || p.eatStr("$$V") || p.eatStr("$$$V") || p.eatStr("$$Z") {
			continue // pack separators
		}
		var n node
		switch {
		case p.eatStr("$$Y"): // alias template
			if qn := p.fullyQualifiedTypeName(); qn != nil {
				n = qn
			}
		case p.eatStr("$$B"): // array
			n = p.typ(modeDrop)
		case p.eatStr("$$C"): // qualified type
			n = p.typ(modeMangle)
		case p.has("$1") || p.has("$H") || p.has("$I") || p.has("$J"):
			n = p.memberPointerArg()
		case p.has("$E?"):
			p.pos += 2
			ref := &symRef{aff: affRef}
			ref.sym = p.parse()
			n = ref
		case p.has("$F") || p.has("$G"):
			p.pos++
			ref := &symRef{}
			k := p.next()
			ref.offsets = append(ref.offsets, p.signed(), p.signed())
			if k == 'G' {
				ref.offsets = append(ref.offsets, p.signed())
			}
			n = ref
		case p.eatStr("$0"):
			v, neg := p.number()
			n = &intLit{v: v, neg: neg}
		default:
			n = p.typ(modeDrop)
		}
		if p.err != nil {
			return nil
		}
		list = append(list, n)
	}
	if p.err != nil {
		return nil
	}
	p.eat('@')
	if list == nil {
		list = []node{}
	}
	return list
}

// memberPointerArg decodes $1, $H, $I, $J: a pointer to a symbol or a member
// function pointer constant with 0–3 inheritance offsets.
func (p *parser) memberPointerArg() node {
	p.pos++
	kind := p.next()
	ref := &symRef{aff: affPointer}
	if p.peek() == '?' {
		ref.sym = p.parse()
		if p.err != nil {
			return nil
		}
		qn := ref.sym.qualName()
		if qn == nil {
			p.fail("member pointer argument has no name")
			return nil
		}
		if s := p.render(qn.last()); p.err == nil {
			p.memorize(s)
		}
	}
	n := 0
	switch kind {
	case 'H':
		n = 1
	case 'I':
		n = 2
	case 'J':
		n = 3
	}
	for range n {
		ref.offsets = append(ref.offsets, p.signed())
	}
	if p.err != nil {
		return nil
	}
	return ref
}

func (p *parser) unqualifiedTypeName(memorize bool) ident {
	switch {
	case p.startsWithDigit():
		return p.backrefName()
	case p.has("?$"):
		return p.templateInstantiationName(nbbTemplate)
	}
	return p.simpleName(memorize)
}

func (p *parser) unqualifiedSymbolName(nbb int) ident {
	switch {
	case p.startsWithDigit():
		return p.backrefName()
	case p.has("?$"):
		return p.templateInstantiationName(nbb)
	case p.peek() == '?':
		return p.functionIdentifierCode()
	}
	return p.simpleName(nbb&nbbSimple != 0)
}

func (p *parser) fullyQualifiedTypeName() *qname {
	id := p.unqualifiedTypeName(true)
	if p.err != nil {
		return nil
	}
	return p.nameScopeChain(id)
}

func (p *parser) fullyQualifiedSymbolName() *qname {
	id := p.unqualifiedSymbolName(nbbSimple)
	if p.err != nil {
		return nil
	}
	qn := p.nameScopeChain(id)
	if p.err != nil {
		return nil
	}
	if s, ok := id.(*structorID); ok {
		if len(qn.parts) < 2 {
			p.fail("structor outside a class")
			return nil
		}
		s.class = qn.parts[len(qn.parts)-2]
	}
	return qn
}

// nameScopeChain reads the enclosing scopes of id, innermost first, up to
// the terminating '@', and returns them outermost first.
func (p *parser) nameScopeChain(id ident) *qname {
	parts := make([]ident, 1, 4)
	parts[0] = id
	for !p.eat('@') {
		if p.empty() {
			p.fail("unterminated qualified name")
			return nil
		}
		piece := p.nameScopePiece()
		if p.err != nil {
			return nil
		}
		parts = append(parts, piece)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return &qname{parts: parts}
}

func (p *parser) nameScopePiece() ident {
	switch {
	case p.startsWithDigit():
		return p.backrefName()
	case p.has("?$"):
		return p.templateInstantiationName(nbbTemplate)
	case p.has("?A"):
		return p.anonymousNamespace()
	case p.startsWithLocalScope():
		return p.locallyScopedPiece()
	}
	return p.simpleName(true)
}

func (p *parser) anonymousNamespace() ident {
	p.eatStr("?A")
	end := strings.IndexByte(p.rest(), '@')
	if end < 0 {
		p.fail("unterminated anonymous namespace")
		return nil
	}
	// The key (its hash) is what back-references to it print.
	p.memorize(p.in[p.pos : p.pos+end])
	p.pos += end + 1
	return &namedID{name: "`anonymous namespace'"}
}

// startsWithLocalScope reports whether a scope is "?<number>?<symbol>", the
// scope of a name local to a function.
func (p *parser) startsWithLocalScope() bool {
	s := p.rest()
	if len(s) == 0 || s[0] != '?' {
		return false
	}
	s = s[1:]
	end := strings.IndexByte(s, '?')
	if end <= 0 {
		return false
	}
	cand := s[:end]
	if len(cand) == 1 {
		return cand[0] == '@' || cand[0] >= '0' && cand[0] <= '9'
	}
	if cand[len(cand)-1] != '@' {
		return false
	}
	cand = cand[:len(cand)-1]
	if cand[0] < 'B' || cand[0] > 'P' {
		return false
	}
	for i := 1; i < len(cand); i++ {
		if cand[i] < 'A' || cand[i] > 'P' {
			return false
		}
	}
	return true
}

func (p *parser) locallyScopedPiece() ident {
	p.eat('?')
	n, _ := p.number()
	p.eat('?')
	scope := p.parse()
	if p.err != nil {
		return nil
	}
	s := p.render(scope)
	if p.err != nil {
		return nil
	}
	return &namedID{name: "`" + s + "'::`" + strconv.FormatUint(n, 10) + "'"}
}

var (
	basicOps = [36]string{
		2: "operator new", 3: "operator delete", 4: "operator=", 5: "operator>>",
		6: "operator<<", 7: "operator!", 8: "operator==", 9: "operator!=",
		10: "operator[]", 12: "operator->", 13: "operator*", 14: "operator++",
		15: "operator--", 16: "operator-", 17: "operator+", 18: "operator&",
		19: "operator->*", 20: "operator/", 21: "operator%", 22: "operator<",
		23: "operator<=", 24: "operator>", 25: "operator>=", 26: "operator,",
		27: "operator()", 28: "operator~", 29: "operator^", 30: "operator|",
		31: "operator&&", 32: "operator||", 33: "operator*=", 34: "operator+=",
		35: "operator-=",
	}
	underOps = [36]string{
		0: "operator/=", 1: "operator%=", 2: "operator>>=", 3: "operator<<=",
		4: "operator&=", 5: "operator|=", 6: "operator^=",
		13: "`vbase dtor'", 14: "`vector deleting dtor'",
		15: "`default ctor closure'", 16: "`scalar deleting dtor'",
		17: "`vector ctor iterator'", 18: "`vector dtor iterator'",
		19: "`vector vbase ctor iterator'", 20: "`virtual displacement map'",
		21: "`eh vector ctor iterator'", 22: "`eh vector dtor iterator'",
		23: "`eh vector vbase ctor iterator'", 24: "`copy ctor closure'",
		29: "`local vftable ctor closure'", 30: "operator new[]",
		31: "operator delete[]",
	}
	doubleUnderOps = [36]string{
		10: "`managed vector ctor iterator'", 11: "`managed vector dtor iterator'",
		12: "`EH vector copy ctor iterator'", 13: "`EH vector vbase copy ctor iterator'",
		16: "`vector copy ctor iterator'", 17: "`vector vbase copy constructor iterator'",
		18: "`managed vector vbase copy constructor iterator'",
		21: "operator co_await", 22: "operator<=>",
	}
)

// functionIdentifierCode decodes "?x", "?_x" and "?__x": constructors,
// destructors, operators and compiler-generated helpers.
func (p *parser) functionIdentifierCode() ident {
	p.eat('?')
	if p.empty() {
		p.fail("missing operator code")
		return nil
	}
	table := &basicOps
	switch {
	case p.eatStr("__"):
		table = &doubleUnderOps
		if p.eat('K') {
			return &literalOpID{name: p.simpleString(false)}
		}
	case p.eat('_'):
		table = &underOps
	default:
		switch p.peek() {
		case '0', '1':
			return &structorID{dtor: p.next() == '1'}
		case 'B':
			p.pos++
			return &conversionID{}
		}
	}
	if p.empty() {
		p.fail("missing operator code")
		return nil
	}
	c := p.next()
	var i int
	switch {
	case c >= '0' && c <= '9':
		i = int(c - '0')
	case c >= 'A' && c <= 'Z':
		i = int(c-'A') + 10
	default:
		p.fail("bad operator code")
		return &intrinsicID{}
	}
	return &intrinsicID{op: table[i]}
}
