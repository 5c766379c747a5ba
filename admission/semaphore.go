package admission

import (
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/relay-host/relay-host/admission/procid"
)

// semaphore is what one process keeps open for one key: the key dir, its
// gate and every slot file, so that an acquire costs a handful of syscalls
// (gate lock, header read, one flock probe per slot, one record write).
type semaphore struct {
	mu    sync.Mutex // flock is per open file: goroutines must take turns
	dir   string
	dirfd int
	gate  *os.File
	gfd   int
	// gateFD is the open file holding the gate lock while we hold it: gfd,
	// or a fresh one the kernel blocked on (see tryGate).
	gateFD int
	slots  []lockFile
	waits  []lockFile
	// cooldown is the key's cooldown file (see cooldown.go).
	cooldown lockFile
	hdr      header
	// limits are the holders' limits (hdrLimits) as read under the gate
	// this time; limitsAll says every entry the file has was read.
	limits    []uint64
	limitsAll bool
	gbuf      []byte
	// warned is the (lowest, requested) pair of limits last warned about.
	warned [2]int
	buf    [recordSize]byte
	opts   *Options
	self   record // our held-record template
}

func openSemaphore(root, slug string, opts *Options) (*semaphore, error) {
	s := &semaphore{dir: filepath.Join(root, slug), opts: opts}
	if err := s.open(root, slug); err != nil {
		return nil, err
	}
	s.self = record{
		V: recordVersion, State: stateHeld, LockBacked: true,
		PID: os.Getpid(), Hostname: opts.Observer.Hostname, BootID: opts.Observer.BootID,
	}
	if me, err := procid.Current(); err == nil {
		s.self.StartTime, s.self.Argv0 = me.StartTime, me.Argv0
	}
	return s, nil
}

func (s *semaphore) closeFiles() {
	for _, l := range append(s.slots, s.waits...) {
		l.f.Close()
	}
	s.slots, s.waits = nil, nil
	if s.cooldown.f != nil {
		s.cooldown.f.Close()
		s.cooldown = lockFile{}
	}
	if s.gate != nil {
		s.gate.Close()
		s.gate = nil
	}
	if s.dirfd >= 0 {
		unix.Close(s.dirfd)
		s.dirfd = -1
	}
}

func (s *semaphore) logDebug(msg string, args ...interface{}) {
	if s.opts.Logger != nil {
		s.opts.Logger.Debug(msg, append([]interface{}{"key_dir", s.dir}, args...)...)
	}
}

func (s *semaphore) logWarn(msg string, args ...interface{}) {
	if s.opts.Logger != nil {
		s.opts.Logger.Warn(msg, args...)
	}
}
