// Command fakemodel runs a fakemodel.Server for tests in another process
// (host/internal/e2e cannot import the package). It prints the server's
// URL on one stdout line and serves until its stdin closes, so it ends with
// the test that started it. Drive it through the control API documented in
// the fakemodel package (POST /_fakemodel/set, GET /_fakemodel/requests, …).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/relay-host/relay-host/providers/internal/fakemodel"
)

func main() {
	s := fakemodel.Start()
	fmt.Println(s.URL)
	io.Copy(io.Discard, os.Stdin)
	s.Close()
}
