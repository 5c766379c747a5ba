// Command relay-host-core runs every relay-host command except `admission`
// and `version`, which the lean relay-host front binary handles itself and
// execs this binary (installed beside it) for the rest, with argv[0]
// unchanged. It links gRPC, go-plugin and the HCL parser.
package main

import (
	"os"

	"github.com/hashicorp/go-plugin"

	"github.com/relay-host/relay-host/host/internal/cli"
)

// version is set by the Makefile (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	code := cli.Main(os.Args[1:], cli.StdIO(), version)
	// Any plugin still running (an error path that returned early) goes
	// before the process does; Pdeathsig would get it anyway.
	plugin.CleanupClients()
	os.Exit(code)
}
