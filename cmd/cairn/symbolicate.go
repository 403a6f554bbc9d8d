package main

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/demangle"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/debugfiles/symcache"
	"github.com/cairn-dev/cairn/internal/atomicfile"
	"github.com/spf13/cobra"
)

// symbolicateFlags are the llvm-symbolizer options `cairn symbolicate`
// understands.
type symbolicateFlags struct {
	obj, arch, style, functions, cacheDir string
	debugDirs                             []string
	inlines, noInlines                    bool
	demangle, noDemangle                  bool
	relative, offsets, printAddress       bool
	noCache                               bool
}

func newSymbolicateCommand() *cobra.Command {
	var f symbolicateFlags
	cmd := &cobra.Command{
		Use:   "symbolicate --obj FILE [ADDR...]",
		Short: "Turn code addresses into functions, files, lines and inline chains (llvm-symbolizer compatible)",
		Long: `Symbolicate addresses of one binary or debug file, printing what llvm-symbolizer
prints: for each address the inline chain innermost first, each frame as a
function name and a file:line:column line, a blank line after each address.
Addresses come from the arguments, or one per line from standard input when
none are given (a line that is not an address is echoed back).

FILE may be an ELF binary or .debug file (a stripped binary's debug file is
found by build id or .gnu_debuglink), a Mach-O binary (its PATH.dSYM is used
when present, as llvm-symbolizer does) or dSYM (--arch picks a slice of a fat
file), a PE image (with the PDB it names, where recorded or beside the image)
or PDB, a Breakpad .sym file, or a .symcache written by 'cairn symcache build'.
Anything but a .symcache is converted into a symcache once and kept in
--cache-dir, keyed by debug id, file checksum and symcache format version, so
the next run starts at once; a .symcache is checked against its checksum.
Code the debug information leaves out (start-up code, hand-written assembly,
a library built without -g) is named from the symbol table as llvm-symbolizer
names it: without a line, and for a local symbol with the file of the symbol
table's STT_FILE entry before it ("crtstuff.c:0").

Addresses are absolute, as the file lays out its code (llvm-symbolizer's
convention). --relative-address follows llvm-symbolizer exactly: it adds the
image base of PE files and changes nothing for other formats. --offsets takes
module offsets for every format (an address minus the module's base, as a
minidump gives them).

Cairn has no column information: where llvm-symbolizer prints a column, Cairn
prints 0; JSON output has "Column":0, "Discriminator":0, "StartFileName":""
and "StartLine":0, and "StartAddress" is the start of the function part or
inlined range containing the address.`,
		Example: `  cairn symbolicate --obj build/game 0x4011a4 0x401290
  cairn symbolicate --obj build/game --output-style=JSON < addresses.txt
  cairn symbolicate --obj Game.app.dSYM --arch arm64 --no-demangle 0x100003f2c
  cairn symbolicate --obj game.sym --offsets 0x11a4       # Breakpad .sym, module offset
  cairn symcache build build/game -o game.symcache && cairn symbolicate --obj game.symcache 0x4011a4`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.obj == "" {
				return errors.New("symbolicate: --obj FILE is required")
			}
			if f.noInlines {
				f.inlines = false
			}
			if f.noDemangle {
				f.demangle = false
			}
			switch f.style {
			case "LLVM", "GNU", "JSON":
			default:
				return fmt.Errorf("symbolicate: --output-style %q: want LLVM, GNU or JSON", f.style)
			}
			switch f.functions {
			case "linkage", "short", "none":
			default:
				return fmt.Errorf("symbolicate: --functions %q: want linkage, short or none", f.functions)
			}
			if f.noCache {
				f.cacheDir = ""
			}
			c, err := loadSymcache(f.obj, f.arch, f.debugDirs, f.cacheDir)
			if err != nil {
				return err
			}
			defer c.Close()
			s := newSymbolizer(c, f)
			if len(args) > 0 {
				return s.run(cmd.OutOrStdout(), args)
			}
			return s.stream(cmd.OutOrStdout(), cmd.InOrStdin())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.obj, "obj", "e", "", "the binary, debug file, Breakpad .sym or .symcache to symbolicate against (also --exe)")
	fl.StringVar(&f.obj, "exe", "", "same as --obj")
	fl.StringVar(&f.arch, "arch", "", "architecture to use in a fat Mach-O file (x86_64, arm64, ...)")
	fl.StringVar(&f.arch, "default-arch", "", "same as --arch")
	fl.StringArrayVar(&f.debugDirs, "debug-dir", nil, "where to look for a stripped binary's separate debug file (repeatable; the binary's own directory is always searched)")
	fl.BoolVarP(&f.inlines, "inlines", "i", true, "print every frame of the inline chain (the default)")
	fl.BoolVar(&f.noInlines, "no-inlines", false, "print one frame per address: the outermost function with the innermost line")
	fl.BoolVarP(&f.demangle, "demangle", "C", true, "demangle function names (the default)")
	fl.BoolVar(&f.noDemangle, "no-demangle", false, "print names as the debug information records them")
	fl.StringVar(&f.functions, "functions", "linkage", "function names to print: linkage, short (without parameters), none")
	fl.BoolVar(&f.relative, "relative-address", false, "addresses are relative to the image base of a PE file (as llvm-symbolizer: no effect on other formats)")
	fl.BoolVar(&f.offsets, "offsets", false, "addresses are offsets from the module's load address, for every format")
	fl.BoolVarP(&f.printAddress, "print-address", "a", false, "print the address before its frames")
	fl.StringVar(&f.style, "output-style", "LLVM", "LLVM, GNU or JSON")
	fl.StringVar(&f.cacheDir, "cache-dir", defaultSymcacheDir(), "where converted symcaches are kept")
	fl.BoolVar(&f.noCache, "no-cache", false, "convert in memory, read and write no cache")
	return cmd
}

// defaultSymcacheDir is the per-user cache of converted symcaches.
func defaultSymcacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "cairn", "symcache")
}

// isSymcacheFile reports whether path starts with the symcache magic.
func isSymcacheFile(path string) bool {
	fh, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	head := make([]byte, 8)
	n, _ := io.ReadFull(fh, head)
	return string(head[:n]) == "CAIRNSYM"
}

// loadSymcache opens a .symcache, or converts a debug file, through the
// cache directory when one is given.
func loadSymcache(path, arch string, debugDirs []string, cacheDir string) (*symcache.Cache, error) {
	if isSymcacheFile(path) {
		c, err := symcache.Open(path)
		if err != nil {
			return nil, err
		}
		if err := c.Verify(); err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return c, nil
	}
	a, err := loader.Open(path)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	obj, err := pickObject(a, arch)
	if err != nil {
		return nil, err
	}
	if obj, err = a.WithDebugFile(obj, debugDirs); err != nil {
		return nil, err
	}
	obj, companion, err := withCompanion(obj, path)
	if err != nil {
		return nil, err
	}
	if companion != nil {
		defer companion.Close()
	}
	if cacheDir == "" {
		opts := prepareSymcacheBuild(obj)
		var buf bytes.Buffer
		if err := symcache.Write(&buf, obj, opts); err != nil {
			return nil, err
		}
		return symcache.New(buf.Bytes())
	}
	key, err := symcacheKey(path, obj)
	if err != nil {
		return nil, err
	}
	cached := filepath.Join(cacheDir, key)
	if c, err := symcache.Open(cached); err == nil {
		if c.DebugID() == obj.DebugID() && c.Verify() == nil {
			return c, nil
		}
		c.Close()
	}
	// Only a build needs its heap readied: a cached symcache is opened
	// without the reserving's collection.
	if err := writeSymcacheFile(cached, obj, prepareSymcacheBuild(obj)); err != nil {
		return nil, err
	}
	return symcache.Open(cached)
}

// withCompanion pairs a binary without debug information with the debug
// file llvm-symbolizer would find for it: the dSYM bundle beside a Mach-O
// binary (PATH.dSYM), the PDB a PE image names (as recorded, then beside
// the image). The companion must hold the same architecture with the same
// debug id. The caller closes the returned archive, if any, when done with
// the object.
func withCompanion(obj debugfiles.Object, path string) (debugfiles.Object, *loader.Archive, error) {
	if c, ok := obj.(*loader.Companion); ok && c.Debug.Format() == debugfiles.FormatPDB {
		// Paired already (Archive.WithDebugFile): record the PDB.
		return pdbCompanion{c}, nil, nil
	}
	if obj.Features()&debugfiles.FeatureDebug != 0 {
		return obj, nil, nil
	}
	var candidates []string
	switch obj.Format() {
	case debugfiles.FormatMachO:
		candidates = []string{path + ".dSYM"}
	case debugfiles.FormatPE:
		if pdb := obj.DebugFile(); pdb != "" {
			base := pdb[strings.LastIndexAny(pdb, `/\`)+1:]
			candidates = []string{pdb, filepath.Join(filepath.Dir(path), base)}
		}
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err != nil {
			continue
		}
		d, err := loader.Open(c)
		if err != nil {
			continue
		}
		for _, o := range d.Objects {
			if o.Arch() == obj.Arch() && o.DebugID() == obj.DebugID() {
				c := &loader.Companion{Object: obj, Debug: o}
				if o.Format() == debugfiles.FormatPDB {
					// The cache records where the debug information came
					// from: llvm-symbolizer prints PDB answers a little
					// differently (see symbolizer.unknownName).
					return pdbCompanion{c}, d, nil
				}
				return c, d, nil
			}
		}
		d.Close()
	}
	return obj, nil, nil
}

// pdbCompanion is a PE image paired with its PDB, reporting the PDB's
// format.
type pdbCompanion struct{ *loader.Companion }

// Format implements debugfiles.Object.
func (pdbCompanion) Format() debugfiles.Format { return debugfiles.FormatPDB }

// symcacheKey names the cache file of an object: its debug id, its
// architecture, a checksum of the file's bytes, the format version and
// cacheContent, so that a rebuilt binary, a new format or a build that
// puts more in never reads a stale cache.
func symcacheKey(path string, obj debugfiles.Object) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("symbolicate: %s: %w", path, err)
	}
	id := obj.DebugID().Breakpad()
	return filepath.Join(id, fmt.Sprintf("%s-%08x.v%d%s.symcache", obj.Arch(), h.Sum32(), symcache.Version, cacheContent)), nil
}

// cacheContent names what this command's symcaches hold beyond what their
// format version says: "-symtab", the symbol table's names for the code
// the debug information leaves out (symcacheOptions). Caches written
// before they held them have other names and are not reused.
const cacheContent = "-symtab"

// writeSymcacheFile builds obj's symcache into path through a temporary
// file renamed into place, so that concurrent runs never see half a file.
func writeSymcacheFile(path string, obj debugfiles.Object, opts symcache.Options) error {
	return atomicfile.Write(path, func(w io.Writer) error { return symcache.Write(w, obj, opts) })
}

// symbolizer prints lookups in llvm-symbolizer's output styles.
type symbolizer struct {
	c      *symcache.Cache
	f      symbolicateFlags
	module string
	// bias is subtracted from input addresses to make them load-relative.
	bias   uint64
	under  uint64 // input addresses below this have no frames
	frames []symcache.Frame
	out    []byte // output not yet written
	// unknownName is printed for a frame without a function name.
	unknownName string
	// names caches demangled names by function index.
	names []string
	done  []bool
}

func newSymbolizer(c *symcache.Cache, f symbolicateFlags) *symbolizer {
	s := &symbolizer{c: c, f: f, module: f.obj, frames: make([]symcache.Frame, 0, 64)}
	switch {
	case f.offsets:
	case f.relative && (c.Format() == debugfiles.FormatPE || c.Format() == debugfiles.FormatPDB):
		// llvm-symbolizer adds the PE image base to relative addresses,
		// which makes them load-relative again.
	default:
		s.bias, s.under = c.LoadAddress(), c.LoadAddress()
	}
	// llvm-symbolizer names an unknown function "??", except when it reads
	// a PDB, whose reader leaves the name empty.
	s.unknownName = "??"
	if c.Format() == debugfiles.FormatPDB {
		s.unknownName = ""
	}
	if f.demangle || f.functions == "short" {
		s.names = make([]string, c.NumFunctions())
		s.done = make([]bool, c.NumFunctions())
	}
	return s
}

// run symbolicates the command line's addresses; JSON output is then one
// array, as llvm-symbolizer prints it.
func (s *symbolizer) run(w io.Writer, args []string) error {
	if s.f.style == "JSON" {
		s.out = append(s.out, '[')
	}
	for i, a := range args {
		if s.f.style == "JSON" && i > 0 {
			s.out = append(s.out, ',')
		}
		s.one([]byte(a))
	}
	if s.f.style == "JSON" {
		s.out = append(s.out, "]\n"...)
	}
	_, err := w.Write(s.out)
	return err
}

// streamBlock is the size of the blocks stream reads, symbolicates and
// writes.
const streamBlock = 64 << 10

// stream symbolicates one address per input line; JSON output is one
// object per line. Input is read in blocks of whole lines, each block is
// symbolicated by one of up to GOMAXPROCS workers, and the answers are
// written in input order. A block holds thousands of lines, so handing it
// over costs nothing next to its lookups.
func (s *symbolizer) stream(w io.Writer, r io.Reader) error {
	return s.streamWorkers(w, r, runtime.GOMAXPROCS(0))
}

// lineBlock is a run of whole input lines and, once done is closed, their
// answers.
type lineBlock struct {
	in, out []byte
	done    chan struct{}
}

func (s *symbolizer) streamWorkers(w io.Writer, r io.Reader, workers int) error {
	workers = max(workers, 1)
	work := make(chan *lineBlock, workers)
	order := make(chan *lineBlock, 2*workers)
	free := make(chan *lineBlock, 3*workers)
	for range workers {
		ws := s.clone()
		go func() {
			for b := range work {
				ws.out = b.out[:0]
				ws.lines(b.in)
				b.out = ws.out
				close(b.done)
			}
		}()
	}
	werr := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		var err error
		for b := range order {
			<-b.done
			if err == nil {
				if _, err = w.Write(b.out); err != nil {
					failed.Store(true)
				}
			}
			select {
			case free <- b:
			default:
			}
		}
		werr <- err
	}()
	rerr := readBlocks(r, free, func(b *lineBlock) {
		b.done = make(chan struct{})
		order <- b
		work <- b
	}, &failed)
	close(work)
	close(order)
	err := <-werr
	if rerr != nil {
		return rerr
	}
	return err
}

// readBlocks cuts the input into blocks of whole lines and hands each to
// send, reusing blocks the writer is done with. It stops early once the
// writer failed (a closed pipe, say): nobody reads the answers.
func readBlocks(r io.Reader, free chan *lineBlock, send func(*lineBlock), failed *atomic.Bool) error {
	var carry []byte // an unfinished line from the previous block
	for {
		var b *lineBlock
		select {
		case b = <-free:
		default:
			b = &lineBlock{in: make([]byte, streamBlock)}
		}
		buf := b.in[:cap(b.in)]
		if len(carry) > len(buf)/2 {
			buf = make([]byte, 2*len(carry))
		}
		c := copy(buf, carry)
		n, err := io.ReadFull(r, buf[c:])
		data := buf[:c+n]
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			return err
		}
		end := len(data)
		if !eof {
			end = bytes.LastIndexByte(data, '\n') + 1
			if end == 0 {
				// A line longer than the buffer: read on into a larger one.
				carry = append([]byte(nil), data...)
				continue
			}
		}
		carry = append(carry[:0], data[end:]...)
		b.in = data[:end]
		send(b)
		if eof || failed.Load() {
			return nil
		}
	}
}

// lines symbolicates every line of a block into s.out.
func (s *symbolizer) lines(in []byte) {
	for len(in) > 0 {
		line := in
		if i := bytes.IndexByte(in, '\n'); i >= 0 {
			line, in = in[:i], in[i+1:]
		} else {
			in = nil
		}
		s.one(line)
		if s.f.style == "JSON" {
			s.out = append(s.out, '\n')
		}
	}
}

// clone is a symbolizer for another goroutine: the same cache and
// options, its own scratch space and name cache.
func (s *symbolizer) clone() *symbolizer {
	c := *s
	c.frames = make([]symcache.Frame, 0, cap(s.frames))
	c.out = nil
	if s.names != nil {
		c.names = make([]string, len(s.names))
		c.done = make([]bool, len(s.done))
	}
	return &c
}

// parseAddress reads the first field of an input line as
// llvm-symbolizer does: an optional CODE prefix, then a number in C
// syntax (0x hex, leading-0 octal, decimal). It does not allocate: a
// million-line input must not make a million strings.
func parseAddress(line []byte) (uint64, bool) {
	tok, rest := nextField(line)
	if string(tok) == "CODE" {
		tok, _ = nextField(rest)
	}
	if len(tok) == 0 {
		return 0, false
	}
	base := 10
	switch {
	case len(tok) > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X'):
		base, tok = 16, tok[2:]
	case len(tok) > 1 && tok[0] == '0':
		base, tok = 8, tok[1:]
	}
	var v uint64
	for _, c := range tok {
		var d uint64
		switch {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case 'a' <= c && c <= 'f':
			d = uint64(c-'a') + 10
		case 'A' <= c && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if d >= uint64(base) || v > (^uint64(0)-d)/uint64(base) {
			return 0, false
		}
		v = v*uint64(base) + d
	}
	return v, true
}

// nextField splits the first space-separated field off b.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' && b[j] != '\t' && b[j] != '\r' {
		j++
	}
	return b[i:j], b[j:]
}

// one prints the answer for one input.
func (s *symbolizer) one(input []byte) {
	addr, ok := parseAddress(input)
	if !ok {
		if s.f.style == "JSON" {
			s.out = append(s.out, `{"Error":{"Message":`...)
			s.out = appendJSONString(s.out, "unable to parse arguments: "+string(input))
			s.out = append(s.out, `},"ModuleName":`...)
			s.out = appendJSONString(s.out, s.module)
			s.out = append(s.out, '}')
			return
		}
		s.out = append(append(s.out, input...), '\n')
		return
	}
	s.frames = s.frames[:0]
	if addr >= s.under {
		s.frames = s.c.Lookup(addr-s.bias, s.frames)
	}
	frames := s.frames
	if !s.f.inlines && len(frames) > 1 {
		// llvm-symbolizer then names the outermost function and gives the
		// innermost line row.
		outer := frames[len(frames)-1]
		outer.FileDir, outer.FileName, outer.Line = frames[0].FileDir, frames[0].FileName, frames[0].Line
		frames[0] = outer
		frames = frames[:1]
	}
	switch s.f.style {
	case "JSON":
		s.json(addr, frames)
	default:
		gnu := s.f.style == "GNU"
		if s.f.printAddress {
			s.out = append(strconv.AppendUint(append(s.out, "0x"...), addr, 16), '\n')
		}
		if len(frames) == 0 {
			s.plain(nil, gnu)
		}
		for i := range frames {
			s.plain(&frames[i], gnu)
		}
		if !gnu {
			s.out = append(s.out, '\n')
		}
	}
}

// name is a frame's function name as the flags ask for it.
func (s *symbolizer) name(fr *symcache.Frame) string {
	if s.names == nil || fr.Function == "" || int(fr.FunctionIndex) >= len(s.names) {
		return fr.Function
	}
	i := fr.FunctionIndex
	if !s.done[i] {
		style := demangle.Full
		if s.f.functions == "short" {
			style = demangle.NoParams
		}
		s.names[i] = strings.Clone(demangle.Demangle(fr.Function, style))
		s.done[i] = true
	}
	return s.names[i]
}

// plain prints one frame (nil: the unknown frame) in the LLVM or GNU style.
func (s *symbolizer) plain(fr *symcache.Frame, gnu bool) {
	b := s.out
	if s.f.functions != "none" {
		if fr == nil || fr.Function == "" {
			b = append(b, s.unknownName...)
		} else {
			b = append(b, s.name(fr)...)
		}
		b = append(b, '\n')
	}
	var line uint32
	if fr == nil || fr.FileDir == "" && fr.FileName == "" {
		b = append(b, "??"...)
	} else {
		b = append(append(b, fr.FileDir...), fr.FileName...)
	}
	if fr != nil {
		line = fr.Line
	}
	b = strconv.AppendUint(append(b, ':'), uint64(line), 10)
	if !gnu {
		b = append(b, ":0"...) // no column information
	}
	s.out = append(b, '\n')
}

// json prints one address as llvm-symbolizer's JSON object.
func (s *symbolizer) json(addr uint64, frames []symcache.Frame) {
	b := append(s.out, `{"Address":"0x`...)
	b = strconv.AppendUint(b, addr, 16)
	b = append(b, `","ModuleName":`...)
	b = appendJSONString(b, s.module)
	b = append(b, `,"Symbol":[`...)
	if len(frames) == 0 {
		b = append(b, `{"Column":0,"Discriminator":0,"FileName":"","FunctionName":"","Line":0,"StartAddress":"","StartFileName":"","StartLine":0}`...)
	}
	for i := range frames {
		fr := &frames[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Column":0,"Discriminator":0,"FileName":`...)
		b = appendJSONString2(b, fr.FileDir, fr.FileName)
		b = append(b, `,"FunctionName":`...)
		if s.f.functions == "none" {
			b = append(b, `""`...)
		} else {
			b = appendJSONString(b, s.name(fr))
		}
		b = append(b, `,"Line":`...)
		b = strconv.AppendUint(b, uint64(fr.Line), 10)
		b = append(b, `,"StartAddress":"0x`...)
		b = strconv.AppendUint(b, fr.Address+s.bias, 16)
		b = append(b, `","StartFileName":"","StartLine":0}`...)
	}
	s.out = append(b, "]}"...)
}

// appendJSONString2 appends the JSON string of x+y without joining them.
func appendJSONString2(b []byte, x, y string) []byte {
	b = appendJSONBody(append(b, '"'), x)
	return append(appendJSONBody(b, y), '"')
}

// appendJSONString quotes s as LLVM's JSON writer does: the short escapes
// for quote, backslash, \b \f \n \r \t, \u00XX for other control
// characters, and U+FFFD for invalid UTF-8.
func appendJSONString(b []byte, s string) []byte {
	return append(appendJSONBody(append(b, '"'), s), '"')
}

// appendJSONBody appends s escaped, without quotes.
func appendJSONBody(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		}
		i++
	}
	return b
}
