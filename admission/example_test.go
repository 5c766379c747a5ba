package admission_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/relay-host/relay-host/admission"
)

// A single-flight key: the second acquire is refused at once with counts
// only, and the slot is free again as soon as the lease is released (or its
// holder dies, however it dies).
func ExampleLocal() {
	root, err := os.MkdirTemp("", "relay-locks-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)

	sem, err := admission.OpenLocal(root, admission.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer sem.Close()
	ctx := context.Background()
	req := admission.Request{Key: "example.route", Limit: 1}

	lease, err := sem.Acquire(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := sem.Acquire(ctx, req); err != nil {
		if b, ok := admission.IsBlocked(err); ok {
			fmt.Printf("second acquire: %s, %d/%d in use\n", b.Reason, b.Capacity.ActiveCount, b.Capacity.Limit)
		}
	}
	if c, err := sem.Status(ctx, req.Key); err == nil {
		fmt.Printf("status: %d/%d\n", c.ActiveCount, c.Limit)
	}
	if err := lease.Release(); err != nil {
		log.Fatal(err)
	}

	lease, err = sem.Acquire(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after release: admitted")
	lease.Release()
	// Output:
	// second acquire: at_capacity, 1/1 in use
	// status: 1/1
	// after release: admitted
}
