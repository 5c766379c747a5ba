// Command relay-host is the front binary users run.
//
// It runs exactly two commands itself, `version` and `admission run` (when
// admissioncmd.NeedsCore says no configuration file or fleet backend
// applies), and hands every other command to relay-host-core (installed
// beside it) by exec, keeping the same pid, arguments and streams. The split is for start-up time: the core links
// gRPC, go-plugin and the HCL parser, whose package initialisers alone cost
// about 3 ms per start here, and `relay-host admission run -- CMD` is a
// flock(1)-style wrapper that must start in about a millisecond.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/relay-host/relay-host/host/internal/admissioncmd"
	"github.com/relay-host/relay-host/host/internal/exitcode"
)

// version is set by the Makefile (-ldflags "-X main.version=…").
var version = "dev"

const coreName = "relay-host-core"

func main() {
	args := os.Args[1:]
	if len(args) > 0 {
		switch args[0] {
		case "admission":
			// A fleet backend (--backend etcd) needs the etcd client and a
			// configuration file the HCL parser, which only relay-host-core
			// links: exec it like any other command.
			if core, warnings := admissioncmd.NeedsCore(args[1:], os.Getenv); !core {
				for _, w := range warnings {
					fmt.Fprintln(os.Stderr, "relay-host: warning: "+w)
				}
				os.Exit(int(admissioncmd.Main(args[1:], admissioncmd.StdIO())))
			}
		case "version", "--version":
			fmt.Printf("relay-host %s\n", version)
			return
		}
	}
	core, err := findCore()
	if err != nil {
		if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			fmt.Print(leanUsage)
			return
		}
		fmt.Fprintf(os.Stderr, "relay-host: %q needs %s, which is not installed: %v; run `make` (it builds bin/%s beside bin/relay-host)\n", args[0], coreName, err, coreName)
		os.Exit(int(exitcode.Usage))
	}
	argv := append([]string{os.Args[0]}, args...)
	err = syscall.Exec(core, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "relay-host: exec %s: %v\n", coreName, err)
	os.Exit(int(exitcode.Usage))
}

// findCore looks beside the real path of this executable, or at
// RELAY_HOST_CORE when set (for packagers that keep it in a libexec dir).
func findCore() (string, error) {
	if p := os.Getenv("RELAY_HOST_CORE"); p != "" {
		return p, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(self); err == nil {
		self = real
	}
	p := filepath.Join(filepath.Dir(self), coreName)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no %s beside %s", coreName, self)
	}
	return p, nil
}

const leanUsage = `relay-host: bounded, crash-safe code reviews by AI providers

usage:
  relay-host admission run --key K --limit N [--wait DUR] [--max-total M] [--config F] -- CMD [ARGS...]
  relay-host version
every other command (admission status|clean, review, …) needs relay-host-core
`
