// Command fakegooglelogin runs a fakemodel.GoogleLogin for tests in another
// process (host/internal/e2e cannot import the package). It writes the
// fake's CA certificate into the directory named by its one argument,
// prints {"url", "proxy_url", "ca_file", "access_token"} as one JSON line
// on stdout and serves until its stdin closes, so it ends with the test
// that started it. GET <url>/_fakemodel/requests lists what it received.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/relay-host/relay-host/providers/internal/fakemodel"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fakegooglelogin <dir for the CA certificate>")
		os.Exit(2)
	}
	g, err := fakemodel.StartGoogleLogin(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakegooglelogin:", err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]string{"url": g.URL, "proxy_url": g.ProxyURL, "ca_file": g.CAFile, "access_token": g.AccessToken})
	io.Copy(io.Discard, os.Stdin)
	g.Close()
}
