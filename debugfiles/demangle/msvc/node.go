package msvc

import "strconv"

// The syntax tree of a decoded name and its rendering. Types print in two
// halves (pre and post) because C declarators wrap names: the pointer to
// function "void (__cdecl *x)(int)" puts x between the halves of its type.

// qual is a set of cv and pointer qualifiers.
type qual uint8

const (
	qConst qual = 1 << iota
	qVolatile
	qUnaligned
	qRestrict
	qPtr64 // parsed but never printed, as llvm-undname does
)

// writer accumulates output up to a byte limit; past it, it records the
// overflow and drops everything else, so rendering a name whose back
// references expand exponentially stops early instead of exhausting memory.
type writer struct {
	buf   []byte
	limit int
	steps int // nodes visited, bounded by limit too
	depth int // nesting of types and names being written
	over  bool
}

// maxRenderDepth bounds the nesting the writer descends into. Parsing
// bounds nesting by maxDepth, but a back-reference puts a whole earlier
// parameter type inside a later one, so ten chained references may nest ten
// times deeper.
const maxRenderDepth = 11 * maxDepth

// down enters a nested type or name; it reports false once the output or
// nesting budget is spent. Every down is paired with an up.
func (w *writer) down() bool {
	w.depth++
	if w.depth > maxRenderDepth {
		w.over = true
	}
	return w.step()
}

func (w *writer) up() { w.depth-- }

func (w *writer) str(s string) {
	if w.over {
		return
	}
	if len(w.buf)+len(s) > w.limit {
		w.over = true
		return
	}
	w.buf = append(w.buf, s...)
}

func (w *writer) byte(c byte) {
	if w.over {
		return
	}
	if len(w.buf)+1 > w.limit {
		w.over = true
		return
	}
	w.buf = append(w.buf, c)
}

func (w *writer) uint(v uint64) {
	var b [20]byte
	w.bytes(strconv.AppendUint(b[:0], v, 10))
}

func (w *writer) int(v int64) {
	var b [21]byte
	w.bytes(strconv.AppendInt(b[:0], v, 10))
}

func (w *writer) bytes(b []byte) {
	if w.over {
		return
	}
	if len(w.buf)+len(b) > w.limit {
		w.over = true
		return
	}
	w.buf = append(w.buf, b...)
}

// step charges one node visit; it reports false once the budget is spent.
func (w *writer) step() bool {
	w.steps++
	if w.steps > w.limit {
		w.over = true
	}
	return !w.over
}

func (w *writer) last() byte {
	if len(w.buf) == 0 {
		return 0
	}
	return w.buf[len(w.buf)-1]
}

// space writes a separating space unless the output ends in punctuation
// other than '>' (so "int x" and "A<int> x" but "int *x" and "`a'::b").
func (w *writer) space() {
	c := w.last()
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '>' {
		w.byte(' ')
	}
}

func writeQuals(w *writer, q qual, before, after bool) {
	start := len(w.buf)
	for _, e := range [...]struct {
		q    qual
		name string
	}{{qConst, "const"}, {qVolatile, "volatile"}, {qRestrict, "__restrict"}} {
		if q&e.q == 0 {
			continue
		}
		if before {
			w.byte(' ')
		}
		w.str(e.name)
		before = true
	}
	if after && len(w.buf) > start {
		w.byte(' ')
	}
}

// node is anything that appears in a template argument list.
type node interface {
	write(w *writer, f Flags)
}

// typeNode is a C++ type.
type typeNode interface {
	node
	pre(w *writer, f Flags)
	post(w *writer, f Flags)
	quals() *qual
}

// qualified holds a type's own cv-qualifiers; the parser adds to them after
// the type itself is decoded.
type qualified struct{ q qual }

func (t *qualified) quals() *qual { return &t.q }

// prefixOnly is the empty second half of types that print entirely before
// the declarator name.
type prefixOnly struct{}

func (prefixOnly) post(*writer, Flags) {}

type primKind uint8

const (
	pVoid primKind = iota
	pBool
	pChar
	pSchar
	pUchar
	pChar8
	pChar16
	pChar32
	pShort
	pUshort
	pInt
	pUint
	pLong
	pUlong
	pInt64
	pUint64
	pWchar
	pFloat
	pDouble
	pLdouble
	pNullptr
)

var primNames = [...]string{
	pVoid: "void", pBool: "bool", pChar: "char", pSchar: "signed char",
	pUchar: "unsigned char", pChar8: "char8_t", pChar16: "char16_t",
	pChar32: "char32_t", pShort: "short", pUshort: "unsigned short",
	pInt: "int", pUint: "unsigned int", pLong: "long", pUlong: "unsigned long",
	pInt64: "__int64", pUint64: "unsigned __int64", pWchar: "wchar_t",
	pFloat: "float", pDouble: "double", pLdouble: "long double",
	pNullptr: "std::nullptr_t",
}

type primType struct {
	qualified
	prefixOnly
	kind primKind
}

func (t *primType) pre(w *writer, f Flags) {
	if w.step() {
		w.str(primNames[t.kind])
		writeQuals(w, t.q, true, false)
	}
}
func (t *primType) write(w *writer, f Flags) { t.pre(w, f) }

type tagKind uint8

const (
	tagClass tagKind = iota
	tagStruct
	tagUnion
	tagEnum
)

var tagNames = [...]string{tagClass: "class ", tagStruct: "struct ", tagUnion: "union ", tagEnum: "enum "}

type tagType struct {
	qualified
	prefixOnly
	tag  tagKind
	name *qname
}

func (t *tagType) pre(w *writer, f Flags) {
	if w.step() {
		w.str(tagNames[t.tag])
		t.name.write(w, f)
		writeQuals(w, t.q, true, false)
	}
}
func (t *tagType) write(w *writer, f Flags) { t.pre(w, f) }

// customType is a name used as a type without a tag ("?<auto>@").
type customType struct {
	qualified
	prefixOnly
	id ident
}

func (t *customType) pre(w *writer, f Flags) {
	if w.step() {
		t.id.write(w, f)
	}
}
func (t *customType) write(w *writer, f Flags) { t.pre(w, f) }

type affinity uint8

const (
	affNone affinity = iota
	affPointer
	affRef
	affRValueRef
)

// ptrType is a pointer, reference or member pointer.
type ptrType struct {
	qualified
	aff     affinity
	class   *qname // the class of a member pointer
	pointee typeNode
}

func (t *ptrType) pre(w *writer, f Flags) {
	defer w.up()
	if !w.down() {
		return
	}
	fn, isFn := t.pointee.(*funcSig)
	if isFn {
		// The return type of a function pointer is part of its type.
		fn.preSignature(w, f&^NoReturnType)
	} else {
		t.pointee.pre(w, f)
	}
	w.space()
	if t.q&qUnaligned != 0 {
		w.str("__unaligned ")
	}
	if _, isArr := t.pointee.(*arrType); isArr {
		w.byte('(')
	} else if isFn {
		// llvm-undname prints a function pointer's calling convention even
		// when asked to leave calling conventions out.
		w.byte('(')
		writeCallConv(w, fn.cc)
		w.byte(' ')
	}
	if t.class != nil {
		t.class.write(w, f)
		w.str("::")
	}
	switch t.aff {
	case affPointer:
		w.byte('*')
	case affRef:
		w.byte('&')
	case affRValueRef:
		w.str("&&")
	}
	writeQuals(w, t.q, false, false)
}

func (t *ptrType) post(w *writer, f Flags) {
	defer w.up()
	if !w.down() {
		return
	}
	if fn, ok := t.pointee.(*funcSig); ok {
		// Unlike the first half, the second keeps NoReturnType, so
		// llvm-undname drops ")(args)" of a returned function pointer.
		w.byte(')')
		fn.post(w, f)
		return
	}
	if _, ok := t.pointee.(*arrType); ok {
		w.byte(')')
	}
	t.pointee.post(w, f)
}

func (t *ptrType) write(w *writer, f Flags) { t.pre(w, f); t.post(w, f) }

type arrType struct {
	qualified
	dims []uint64
	elem typeNode
}

func (t *arrType) pre(w *writer, f Flags) {
	defer w.up()
	if w.down() {
		t.elem.pre(w, f)
		writeQuals(w, t.q, true, false)
	}
}
func (t *arrType) post(w *writer, f Flags) {
	defer w.up()
	if !w.down() {
		return
	}
	w.byte('[')
	for i, d := range t.dims {
		if i > 0 {
			w.str("][")
		}
		if d != 0 {
			w.uint(d)
		}
	}
	w.byte(']')
	t.elem.post(w, f)
}
func (t *arrType) write(w *writer, f Flags) { t.pre(w, f); t.post(w, f) }

type callConv uint8

const (
	ccNone callConv = iota
	ccCdecl
	ccPascal
	ccThiscall
	ccStdcall
	ccFastcall
	ccClrcall
	ccEabi
	ccVectorcall
	ccSwift
	ccSwiftAsync
)

var callConvNames = [...]string{
	ccCdecl: "__cdecl", ccPascal: "__pascal", ccThiscall: "__thiscall",
	ccStdcall: "__stdcall", ccFastcall: "__fastcall", ccClrcall: "__clrcall",
	ccEabi: "__eabi", ccVectorcall: "__vectorcall",
	ccSwift:      "__attribute__((__swiftcall__)) ",
	ccSwiftAsync: "__attribute__((__swiftasynccall__)) ",
}

func writeCallConv(w *writer, cc callConv) {
	w.space()
	w.str(callConvNames[cc])
}

// funcClass is what a function's class letter says: access, static,
// virtual, thunk kind.
type funcClass uint16

const (
	fcPublic funcClass = 1 << iota
	fcProtected
	fcPrivate
	fcGlobal
	fcStatic
	fcVirtual
	fcFar
	fcExternC
	fcNoParams // an extern "C" function named only as a scope; no signature
	fcVirtualThisAdjust
	fcVirtualThisAdjustEx
	fcStaticThisAdjust
)

type refQual uint8

const (
	refNone refQual = iota
	refLValue
	refRValue
)

// thisAdjust is the this-pointer adjustment of a thunk. The field widths
// match what llvm-undname prints: the static offset is unsigned 32-bit.
type thisAdjust struct {
	static   uint32
	vbptr    int32
	vboffset int32
	vtordisp int32
}

// funcSig is a function type, or a function symbol's signature.
type funcSig struct {
	qualified // of this
	cc        callConv
	fc        funcClass
	ref       refQual
	ret       typeNode // nil for structors
	variadic  bool
	params    []typeNode
	hasList   bool // false for "(void)": no parameter list was mangled
	noexcept  bool
	thunk     *thisAdjust
}

func (t *funcSig) preSignature(w *writer, f Flags) {
	if f&NoAccessSpecifier == 0 {
		switch {
		case t.fc&fcPublic != 0:
			w.str("public: ")
		case t.fc&fcProtected != 0:
			w.str("protected: ")
		case t.fc&fcPrivate != 0:
			w.str("private: ")
		}
	}
	if f&NoMemberType == 0 {
		if t.fc&fcGlobal == 0 && t.fc&fcStatic != 0 {
			w.str("static ")
		}
		if t.fc&fcVirtual != 0 {
			w.str("virtual ")
		}
		if t.fc&fcExternC != 0 {
			w.str(`extern "C" `)
		}
	}
	if f&NoReturnType == 0 && t.ret != nil {
		t.ret.pre(w, f)
		w.byte(' ')
	}
}

func (t *funcSig) pre(w *writer, f Flags) {
	defer w.up()
	if !w.down() {
		return
	}
	if t.thunk != nil {
		w.str("[thunk]: ")
	}
	t.preSignature(w, f)
	if f&NoCallingConvention == 0 {
		writeCallConv(w, t.cc)
	}
}

func (t *funcSig) post(w *writer, f Flags) {
	defer w.up()
	if !w.down() {
		return
	}
	if a := t.thunk; a != nil {
		switch {
		case t.fc&fcStaticThisAdjust != 0:
			w.str("`adjustor{")
			w.uint(uint64(a.static))
			w.str("}'")
		case t.fc&fcVirtualThisAdjustEx != 0:
			w.str("`vtordispex{")
			w.int(int64(a.vbptr))
			w.str(", ")
			w.int(int64(a.vboffset))
			w.str(", ")
			w.int(int64(a.vtordisp))
			w.str(", ")
			w.uint(uint64(a.static))
			w.str("}'")
		case t.fc&fcVirtualThisAdjust != 0:
			w.str("`vtordisp{")
			w.int(int64(a.vtordisp))
			w.str(", ")
			w.uint(uint64(a.static))
			w.str("}'")
		}
	}
	if t.fc&fcNoParams == 0 {
		w.byte('(')
		if t.hasList {
			writeList(w, f, t.params)
		} else {
			w.str("void")
		}
		if t.variadic {
			if w.last() != '(' {
				w.str(", ")
			}
			w.str("...")
		}
		w.byte(')')
	}
	if t.q&qConst != 0 {
		w.str(" const")
	}
	if t.q&qVolatile != 0 {
		w.str(" volatile")
	}
	if t.q&qRestrict != 0 {
		w.str(" __restrict")
	}
	if t.q&qUnaligned != 0 {
		w.str(" __unaligned")
	}
	if t.noexcept {
		w.str(" noexcept")
	}
	switch t.ref {
	case refLValue:
		w.str(" &")
	case refRValue:
		w.str(" &&")
	}
	if f&NoReturnType == 0 && t.ret != nil {
		t.ret.post(w, f)
	}
}

func (t *funcSig) write(w *writer, f Flags) { t.pre(w, f); t.post(w, f) }

func writeList[T node](w *writer, f Flags, list []T) {
	for i, n := range list {
		if i > 0 {
			w.str(", ")
		}
		n.write(w, f)
	}
}

// intLit is an integer template argument.
type intLit struct {
	v   uint64
	neg bool
}

func (n *intLit) write(w *writer, _ Flags) {
	if n.neg {
		w.byte('-')
	}
	w.uint(n.v)
}

// symRef is a template argument naming a symbol ("&x", "x") or a member
// pointer constant ("{f, 8}", "{8, 0}").
type symRef struct {
	sym     symbol // may be nil
	aff     affinity
	offsets []int64
}

func (n *symRef) write(w *writer, f Flags) {
	if !w.step() {
		return
	}
	if len(n.offsets) > 0 {
		w.byte('{')
	} else if n.aff == affPointer {
		w.byte('&')
	}
	if n.sym != nil {
		n.sym.write(w, f)
		if len(n.offsets) > 0 {
			w.str(", ")
		}
	}
	for i, o := range n.offsets {
		if i > 0 {
			w.str(", ")
		}
		w.int(o)
	}
	if len(n.offsets) > 0 {
		w.byte('}')
	}
}

// qname is a qualified name, outermost scope first.
type qname struct {
	parts []ident
}

func (n *qname) write(w *writer, f Flags) {
	defer w.up()
	if !w.down() {
		return
	}
	for i, p := range n.parts {
		if i > 0 {
			w.str("::")
		}
		p.write(w, f)
	}
}

func (n *qname) last() ident { return n.parts[len(n.parts)-1] }

// ident is one part of a qualified name.
type ident interface {
	node
	base() *idBase
}

// idBase holds the template arguments every identifier may carry.
type idBase struct {
	targs    []node
	hasTargs bool // "f<>" has an empty but present list
}

func (b *idBase) base() *idBase { return b }

func (b *idBase) writeTargs(w *writer, f Flags) {
	if !b.hasTargs {
		return
	}
	w.byte('<')
	writeList(w, f, b.targs)
	w.byte('>')
}

type namedID struct {
	idBase
	name string
}

func (n *namedID) write(w *writer, f Flags) {
	if w.step() {
		w.str(n.name)
		n.writeTargs(w, f)
	}
}

type intrinsicID struct {
	idBase
	op string // "" for codes that name no operator
}

func (n *intrinsicID) write(w *writer, f Flags) {
	if w.step() {
		w.str(n.op)
		n.writeTargs(w, f)
	}
}

type structorID struct {
	idBase
	class ident // the enclosing class's identifier
	dtor  bool
}

func (n *structorID) write(w *writer, f Flags) {
	if !w.step() {
		return
	}
	if n.dtor {
		w.byte('~')
	}
	if n.class != nil {
		n.class.write(w, f)
	}
	n.writeTargs(w, f)
}

type conversionID struct {
	idBase
	target typeNode
}

func (n *conversionID) write(w *writer, f Flags) {
	if !w.step() {
		return
	}
	w.str("operator")
	n.writeTargs(w, f)
	w.byte(' ')
	if n.target != nil {
		n.target.write(w, f)
	}
}

type literalOpID struct {
	idBase
	name string
}

func (n *literalOpID) write(w *writer, f Flags) {
	if w.step() {
		w.str(`operator ""`)
		w.str(n.name)
		n.writeTargs(w, f)
	}
}

// dynStructorID names a dynamic initializer or atexit destructor, either of
// a variable (with its type) or of a name.
type dynStructorID struct {
	idBase
	variable *varSym
	name     *qname
	dtor     bool
}

func (n *dynStructorID) write(w *writer, f Flags) {
	if !w.step() {
		return
	}
	if n.dtor {
		w.str("`dynamic atexit destructor for ")
	} else {
		w.str("`dynamic initializer for ")
	}
	if n.variable != nil {
		w.byte('`')
		n.variable.write(w, f)
	} else {
		w.byte('\'')
		n.name.write(w, f)
	}
	w.str("''")
}

type guardID struct {
	idBase
	thread bool
	scope  uint32
}

func (n *guardID) write(w *writer, f Flags) {
	if n.thread {
		w.str("`local static thread guard'")
	} else {
		w.str("`local static guard'")
	}
	if n.scope > 0 {
		w.byte('{')
		w.uint(uint64(n.scope))
		w.byte('}')
	}
}

type vcallID struct {
	idBase
	offset uint64
}

func (n *vcallID) write(w *writer, f Flags) {
	w.str("`vcall'{")
	w.uint(n.offset)
	w.str(", {flat}}")
}

// rttiBCDID names an RTTI base class descriptor; the field widths are the
// ones llvm-undname prints with.
type rttiBCDID struct {
	idBase
	nvOffset, vbtableOffset, flags uint32
	vbptrOffset                    int32
}

func (n *rttiBCDID) write(w *writer, f Flags) {
	w.str("`RTTI Base Class Descriptor at (")
	w.uint(uint64(n.nvOffset))
	w.str(", ")
	w.int(int64(n.vbptrOffset))
	w.str(", ")
	w.uint(uint64(n.vbtableOffset))
	w.str(", ")
	w.uint(uint64(n.flags))
	w.str(")'")
}

// symbol is a whole decoded name.
type symbol interface {
	node
	qualName() *qname // nil for string literals
}

type funcSym struct {
	name *qname
	sig  *funcSig
}

func (s *funcSym) qualName() *qname { return s.name }
func (s *funcSym) write(w *writer, f Flags) {
	s.sig.pre(w, f)
	w.space()
	s.name.write(w, f)
	s.sig.post(w, f)
}

type storageClass uint8

const (
	scNone storageClass = iota
	scPrivateStatic
	scProtectedStatic
	scPublicStatic
	scGlobal
	scLocalStatic
)

type varSym struct {
	name *qname
	typ  typeNode // nil for RTTI tables
	sc   storageClass
	// synthetic marks names made up by the demangler ("`RTTI Type
	// Descriptor'") that say nothing without their type.
	synthetic bool
}

func (s *varSym) qualName() *qname { return s.name }
func (s *varSym) write(w *writer, f Flags) {
	access := ""
	switch s.sc {
	case scPrivateStatic:
		access = "private: "
	case scProtectedStatic:
		access = "protected: "
	case scPublicStatic:
		access = "public: "
	}
	if access != "" {
		if f&NoAccessSpecifier == 0 {
			w.str(access)
		}
		if f&NoMemberType == 0 {
			w.str("static ")
		}
	}
	if f&NoVariableType == 0 && s.typ != nil {
		s.typ.pre(w, f)
	}
	w.space()
	s.name.write(w, f)
	if f&NoVariableType == 0 && s.typ != nil {
		s.typ.post(w, f)
	}
}

// tableSym is a vftable, vbtable, local vftable or complete object locator.
type tableSym struct {
	name   *qname
	q      qual
	target *qname // the base the table is for, if named
}

func (s *tableSym) qualName() *qname { return s.name }
func (s *tableSym) write(w *writer, f Flags) {
	writeQuals(w, s.q, false, true)
	s.name.write(w, f)
	if s.target != nil {
		w.str("{for `")
		s.target.write(w, f)
		w.str("'}")
	}
}

type guardSym struct {
	name *qname
}

func (s *guardSym) qualName() *qname         { return s.name }
func (s *guardSym) write(w *writer, f Flags) { s.name.write(w, f) }

type charKind uint8

const (
	charNarrow charKind = iota
	char16
	char32
	charWide
)

var charPrefixes = [...]string{charNarrow: `"`, char16: `u"`, char32: `U"`, charWide: `L"`}

type stringSym struct {
	kind      charKind
	text      string // already escaped
	truncated bool
}

func (s *stringSym) qualName() *qname { return nil }
func (s *stringSym) write(w *writer, _ Flags) {
	w.str(charPrefixes[s.kind])
	w.str(s.text)
	w.byte('"')
	if s.truncated {
		w.str("...")
	}
}

// md5Sym is a name MSVC replaced by its hash because it was too long; it
// prints as itself.
type md5Sym struct {
	name string
}

func (s *md5Sym) qualName() *qname         { return synthName(s.name) }
func (s *md5Sym) write(w *writer, _ Flags) { w.str(s.name) }

// writeNameOnly writes the qualified name of a function without its own
// template arguments, or of a variable (a variable template keeps its
// arguments: they tell its instances apart). Other symbols print in full.
// Scopes print as in the full form, so "std::function<int __cdecl(int)>"
// keeps its argument's return type and calling convention.
func writeNameOnly(w *writer, sym symbol) {
	switch s := sym.(type) {
	case *funcSym:
		name := s.name
		for _, p := range name.parts[:len(name.parts)-1] {
			p.write(w, 0)
			w.str("::")
		}
		last := name.last()
		b := last.base()
		saved := b.hasTargs
		b.hasTargs = false
		last.write(w, 0)
		b.hasTargs = saved
		return
	case *varSym:
		if !s.synthetic {
			s.name.write(w, 0)
			return
		}
	}
	sym.write(w, 0)
}
