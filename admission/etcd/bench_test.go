package etcd

import (
	"context"
	"testing"

	"github.com/relay-host/relay-host/admission"
)

// BenchmarkEtcdAcquireRelease is one uncontended acquire+release (read
// txn, commit txn, delete txn; the shared lease is granted once) against
// an embedded etcd with fsync on, to
// set beside admission's BenchmarkLocalAcquireRelease.
func BenchmarkEtcdAcquireRelease(b *testing.B) {
	e, ep, err := startEtcd(b.TempDir(), true)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	be := open(b, ep)
	ctx := context.Background()
	r := admission.Request{Key: "bench.route", Limit: 4}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l, err := be.Acquire(ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(); err != nil {
			b.Fatal(err)
		}
	}
	// Teardown (closing the client, then etcd's graceful stop of several
	// seconds) is not part of an acquire+release.
	b.StopTimer()
	be.Close()
}
