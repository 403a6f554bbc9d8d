package upload

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Progress draws one bar per file and an overall bar on a terminal. Every
// method is a no-op on a nil *Progress, so callers without a terminal pass
// nil.
type Progress struct {
	w        io.Writer
	interval time.Duration

	mu    sync.Mutex
	files []*fileBar
	index map[*File]*fileBar
	total int64
	lines int
	stopc chan struct{}
	drawn chan struct{}
}

type fileBar struct {
	name   string
	size   int64
	hashed atomic.Int64
	sent   atomic.Int64
	state  atomic.Value // string
}

// NewProgress returns a renderer writing to w (a terminal) every interval.
func NewProgress(w io.Writer, interval time.Duration) *Progress {
	return &Progress{w: w, interval: interval, index: map[*File]*fileBar{}}
}

func (p *Progress) start(files []*File) {
	if p == nil {
		return
	}
	p.mu.Lock()
	for _, f := range files {
		b := &fileBar{name: f.Name, size: f.Size}
		b.state.Store("")
		p.files = append(p.files, b)
		p.index[f] = b
		p.total += f.Size
	}
	p.stopc, p.drawn = make(chan struct{}), make(chan struct{})
	p.mu.Unlock()
	go func() {
		defer close(p.drawn)
		t := time.NewTicker(p.interval)
		defer t.Stop()
		for {
			select {
			case <-p.stopc:
				p.draw()
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
}

func (p *Progress) stop() {
	if p == nil || p.stopc == nil {
		return
	}
	close(p.stopc)
	<-p.drawn
}

// hashed is where a hashing phase would be shown; hashing runs at disk
// speed, so the bars show sending only.
func (p *Progress) hashed(int64) {}

func (p *Progress) sent(f *File, n int64) {
	if p == nil {
		return
	}
	if b := p.index[f]; b != nil {
		b.sent.Add(n)
	}
}

func (p *Progress) done(f *File, state string) {
	if p == nil {
		return
	}
	if b := p.index[f]; b != nil {
		b.state.Store(state)
	}
}

// draw redraws the bars in place with ANSI cursor movement.
func (p *Progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var sb strings.Builder
	if p.lines > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", p.lines)
	}
	var sent int64
	for _, b := range p.files {
		s := min(b.sent.Load(), b.size)
		sent += s
		fmt.Fprintf(&sb, "\r\x1b[K%-28.28s %s %s %s\n", b.name, bar(s, b.size, 30), human(b.size), b.state.Load())
	}
	fmt.Fprintf(&sb, "\r\x1b[K%-28s %s %s / %s\n", "total", bar(sent, p.total, 30), human(sent), human(p.total))
	p.lines = len(p.files) + 1
	io.WriteString(p.w, sb.String())
}

func bar(n, total int64, width int) string {
	fill := width
	if total > 0 {
		fill = int(int64(width) * n / total)
	}
	return "[" + strings.Repeat("#", fill) + strings.Repeat(".", width-fill) + "]"
}

// human formats a byte count with a binary unit.
func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Human formats a byte count for summaries.
func Human(n int64) string { return human(n) }
