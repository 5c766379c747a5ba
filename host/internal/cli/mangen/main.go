// Command mangen writes relay-host's man pages, one per command (section
// 1), from the CLI's own command tree, so they say what --help says. `make
// install` runs it:
//
//	go run ./host/internal/cli/mangen DIR
//
// SOURCE_DATE_EPOCH, when set, dates the pages (reproducible builds);
// otherwise they carry today's date.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra/doc"

	"github.com/relay-host/relay-host/host/internal/cli"
)

// version is set by the Makefile (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mangen DIR")
		os.Exit(2)
	}
	root := cli.NewRoot(&cli.Globals{IO: cli.StdIO(), Version: version})
	root.DisableAutoGenTag = true
	date := time.Now()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mangen: SOURCE_DATE_EPOCH is not a number of seconds")
			os.Exit(2)
		}
		date = time.Unix(n, 0).UTC()
	}
	header := &doc.GenManHeader{Title: "RELAY-HOST", Section: "1", Source: "relay-host " + version, Manual: "relay-host manual", Date: &date}
	if err := os.MkdirAll(os.Args[1], 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "mangen:", err)
		os.Exit(1)
	}
	if err := doc.GenManTree(root, header, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "mangen:", err)
		os.Exit(1)
	}
}
