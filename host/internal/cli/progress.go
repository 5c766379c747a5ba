package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress is an elapsed-time line on a terminal's stderr. It is only ever
// created for a TTY, and never with --json.
type progress struct {
	f     *os.File
	mu    sync.Mutex
	label string
	start time.Time
	done  chan struct{}
	wg    sync.WaitGroup
}

func startProgress(f *os.File, label string) *progress {
	p := &progress{f: f, label: label, start: time.Now(), done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		frames := `|/-\`
		for i := 0; ; i++ {
			select {
			case <-p.done:
				fmt.Fprint(p.f, "\r\033[K")
				return
			case <-t.C:
				p.mu.Lock()
				fmt.Fprintf(p.f, "\r\033[K%c %s %ds", frames[i%4], p.label, int(time.Since(p.start).Seconds()))
				p.mu.Unlock()
			}
		}
	}()
	return p
}

func (p *progress) set(label string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.label = label
	p.mu.Unlock()
}

func (p *progress) stop() {
	if p == nil {
		return
	}
	close(p.done)
	p.wg.Wait()
}

// println writes a whole line to w, first clearing the progress line so the
// two never share a terminal line.
func (p *progress) println(w io.Writer, line string) {
	if p == nil {
		fmt.Fprintln(w, line)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.f, "\r\033[K")
	fmt.Fprintln(w, line)
}
