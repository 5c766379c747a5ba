package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// progress is an elapsed-time line on a terminal's stderr. It is only ever
// created for a TTY, and never with --json. It uses no colour; on a dumb
// terminal (TERM=dumb) it uses no escape sequence either.
type progress struct {
	w     io.Writer
	dumb  bool
	mu    sync.Mutex
	label string
	start time.Time
	width int // runes of the line on screen, for clearing it on a dumb terminal
	done  chan struct{}
	wg    sync.WaitGroup
}

// startProgress draws the line on f, the process's own stderr, so TERM is
// read from the process's environment.
func startProgress(f *os.File, label string) *progress {
	return runProgress(f, label, dumbTerminal(os.Getenv), 200*time.Millisecond)
}

func runProgress(w io.Writer, label string, dumb bool, tick time.Duration) *progress {
	p := &progress{w: w, dumb: dumb, label: label, start: time.Now(), done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		frames := `|/-\`
		for i := 0; ; i++ {
			select {
			case <-p.done:
				p.mu.Lock()
				p.clear()
				p.mu.Unlock()
				return
			case <-t.C:
				p.mu.Lock()
				p.clear()
				line := fmt.Sprintf("%c %s %ds", frames[i%4], p.label, int(time.Since(p.start).Seconds()))
				fmt.Fprint(p.w, line)
				p.width = utf8.RuneCountInString(line)
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// clear blanks the line and returns to its start. Callers hold mu.
func (p *progress) clear() {
	if p.dumb {
		if p.width > 0 {
			fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.width)+"\r")
		}
	} else {
		fmt.Fprint(p.w, "\r\033[K")
	}
	p.width = 0
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
	p.clear()
	fmt.Fprintln(w, line)
}
