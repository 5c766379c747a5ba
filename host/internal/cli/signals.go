package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/hashicorp/go-plugin"

	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/pluginhost"
)

// signalContext is cancelled by SIGINT, SIGTERM or SIGHUP. The pipeline
// then records the outcome, stops the plugin and releases its lease before
// the command exits with 128+signal. A second signal stops at once: every
// plugin's process group is killed (an SDK plugin first kills its CLIs'
// groups on SIGTERM) and the process exits. The kernel frees the lease when
// the last holder of its lock is gone: this process, and a plugin that
// holds a copy (pluginhost.ShareLease) once it has died.
type signalContext struct {
	context.Context
	got  atomic.Int32
	stop func()
}

func withSignals(parent context.Context) *signalContext {
	ctx, cancel := context.WithCancelCause(parent)
	sc := &signalContext{Context: ctx}
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				sig := s.(syscall.Signal)
				if !sc.got.CompareAndSwap(0, int32(sig)) {
					pluginhost.StopAll()
					plugin.CleanupClients()
					os.Exit(int(exitcode.Signaled(int(sig))))
				}
				cancel(fmt.Errorf("received %s", sigName(sig)))
			case <-done:
				return
			}
		}
	}()
	sc.stop = func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
	return sc
}

// exitCode is 128+signal when a signal arrived, else code.
func (s *signalContext) exitCode(code exitcode.Code) exitcode.Code {
	if sig := s.got.Load(); sig != 0 {
		return exitcode.Signaled(int(sig))
	}
	return code
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}
