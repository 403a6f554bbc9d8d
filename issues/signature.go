package issues

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// maxSignature bounds a crash signature, as Socorro's column does.
const maxSignature = 255

// Frames that never explain a crash: the machinery that raises, aborts or
// dispatches it, and unsymbolicated frames inside system libraries. They
// are skipped wherever they appear. Compiled on first use, so that
// commands which never group crashes do not pay for it at start-up.
var irrelevantFrame = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(` + strings.Join([]string{
		`abort`, `_?_?GI_(abort|raise)`, `raise`, `__?pthread_kill.*`, `pthread_kill`, `__restore_rt`,
		`__libc_message`, `__?fortify_fail.*`, `__stack_chk_fail`, `__chk_fail`, `_purecall`,
		`KiUserExceptionDispatcher`, `RtlRaiseException`, `RaiseException`, `RaiseFailFastException`,
		`RtlDispatchException`, `_CxxThrowException`, `__cxa_throw`, `__cxa_rethrow`, `std::terminate`,
		`__cxxabiv1::.*`, `_invalid_parameter.*`, `__kernel_vsyscall`, `_?_?sigtramp`,
		`(libc|libpthread|libsystem_kernel|libsystem_c|libsystem_pthread)[-.\w]*@0x[0-9a-f]+`,
		`(ntdll|kernelbase|kernel32)\.dll@0x[0-9a-f]+`, `linux-gate\.so@0x[0-9a-f]+`,
	}, "|") + `)$`)
})

// Frames that are where the crash happened but not why: allocators, string
// and memory primitives, assertion and panic helpers. The signature keeps
// them and goes on to their caller.
var prefixFrame = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(` + strings.Join([]string{
		`malloc`, `calloc`, `realloc`, `free`, `_?_?libc_(malloc|calloc|realloc|free)`, `je_.*`, `moz_x.*`,
		`mem(cpy|move|set|cmp|chr)`, `__mem(cpy|move|set|cmp)_.*`, `wmem(cpy|move|set)`,
		`str(len|cmp|ncmp|cpy|ncpy|cat|chr|rchr|dup)`, `__str(len|cmp|cpy|chr)_.*`, `wcs(len|cmp|cpy)`,
		`operator new.*`, `operator delete.*`, `std::__throw_.*`, `std::__glibcxx_assert_fail.*`,
		`RtlFreeHeap`, `RtlAllocateHeap`, `HeapFree`, `HeapAlloc`, `RtlpLowFragHeap.*`,
		`assert`, `__assert_fail`, `__assert_rtn`, `_wassert`, `_assert`,
		`rust_panic`, `rust_begin_unwind`, `core::panicking::.*`, `std::panicking::.*`, `std::process::abort`,
		`core::result::unwrap_failed`, `core::option::(expect|unwrap)_failed`,
	}, "|") + `)$`)
})

// CrashSignature names a native crash the way Socorro does, so crashes can
// be searched and compared by signature: walking from the crashing frame
// outwards, irrelevant frames are skipped and prefix frames are joined
// with " | " until the first frame that is neither. Frames without a
// function are written "module@0xoffset" (or "@0xaddress" outside any
// module). frames are ordered oldest first, as in a Sentry stack trace.
func CrashSignature(frames []*Frame, images []*DebugImage) string {
	var parts []string
	first := ""
	for i := len(frames) - 1; i >= 0; i-- {
		name := signatureName(frames[i], images)
		if first == "" {
			first = name
		}
		if irrelevantFrame().MatchString(name) {
			continue
		}
		parts = append(parts, name)
		if !prefixFrame().MatchString(name) {
			break
		}
	}
	if len(parts) == 0 {
		// Every frame was irrelevant: the crashing one still names it
		// better than nothing.
		parts = []string{first}
	}
	sig := strings.Join(parts, " | ")
	if len(sig) > maxSignature {
		sig = sig[:maxSignature-3] + "..."
	}
	return sig
}

func signatureName(f *Frame, images []*DebugImage) string {
	if fn := NormalizeFunction(firstNonEmpty(f.Function, f.Symbol)); fn != "" {
		return fn
	}
	if im := imageFor(f, images); im != nil {
		return fmt.Sprintf("%s@0x%x", basename(im.CodeFile), f.InstructionAddr.N-im.ImageAddr.N)
	}
	if f.InstructionAddr.Set {
		return fmt.Sprintf("@0x%x", f.InstructionAddr.N)
	}
	return "@0x0"
}
