package jobs

import (
	"fmt"
	"os"
	"testing"
)

// BenchmarkJobLock is what the job lock adds to every review: create and
// lock <id>.lock, record the worker's identity in it, and release it
// (unlink + close), on the real file system of the test's temp dir.
func BenchmarkJobLock(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	w := Worker{PID: os.Getpid(), StartTime: "12345", Argv0: "relay-host-core"}
	i := 0
	for b.Loop() {
		l, err := s.Lock(fmt.Sprintf("r-bench-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		if err := l.SetWorker(w); err != nil {
			b.Fatal(err)
		}
		l.Release()
		i++
	}
}

// BenchmarkPut is one record write, for scale: a review writes its record
// three or four times (queued, running, sent, outcome).
func BenchmarkPut(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := &Record{JobID: "r-bench", Provider: "echo", Route: "default", Status: StatusRunning, Transmission: MayBeSent}
	for b.Loop() {
		if err := s.Put(r); err != nil {
			b.Fatal(err)
		}
	}
}
