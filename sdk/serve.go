package sdk

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// parentAtStart is the parent pid captured at package initialisation, as
// close to exec as Go allows. After arming the parent-death signal, Serve
// compares it with the current parent: a parent that died before the signal
// was armed would otherwise go unnoticed. Comparing with the pid at start,
// not with 1, is right in containers where the host itself is pid 1 or a
// subreaper adopts orphans.
var parentAtStart = os.Getppid()

// Serve serves p as a relay provider plugin and returns when relay-host
// closes the plugin. Call it from main; it must be the only thing that
// writes to stdout (go-plugin's handshake line).
//
// Serve:
//   - speaks gRPC only, protocol version [ProtocolVersion], with explicit
//     message size limits ([MaxMessageBytes]);
//   - logs JSON to the real stderr, so the host logs entries at their level
//     (use [Logger] in provider methods);
//   - recovers panics in every provider call into a [CodePluginPanic] error
//     (a panic on a goroutine the provider starts itself cannot be recovered
//     and ends the process);
//   - when a provider call ignores a cancelled context for longer than
//     [CancelGrace], kills as on SIGTERM (below) and exits (status 3);
//   - on SIGTERM or when its parent process dies, cancels every call and,
//     without waiting for them, SIGKILLs the process group of every CLI
//     started with [Command], then its own process group (helpers a provider
//     started with plain os/exec, and the plugin itself) when it leads that
//     group, as it does when relay-host launched it; a plugin that does not
//     lead its group exits (status 1);
//   - holds a copy of the review's admission lock when relay-host hands one
//     over (see [EnvLeaseFD]), so the slot stays held until the kills above
//     are done, even when relay-host was SIGKILLed.
func Serve(p Provider) {
	// Captured before go-plugin swaps os.Stderr for a pipe: this file is the
	// process's real stderr, which the host parses as structured logs.
	logger := hclog.New(&hclog.LoggerOptions{
		Level:      hclog.Trace, // the host filters by its own level
		Output:     os.Stderr,
		JSONFormat: true,
	})

	root, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := &server{provider: p, logger: logger, root: root, grace: CancelGrace, exit: stopProcess}
	holdLease(logger)

	var once sync.Once
	terminate := func(reason string) {
		once.Do(func() {
			// Debug, not warn: the host stops a plugin with SIGTERM after
			// every failed, timed-out or cancelled review and already prints
			// one line saying why; a second line at the default level would
			// only repeat it.
			logger.Debug("stopping plugin", "reason", reason)
			cancel()
			// No waiting for the calls: a provider that ignores its
			// context would keep its CLIs running for CancelGrace after
			// the host (and, when it was SIGKILLed, the host's own copy of
			// the lock) is gone. The kills come first; the lease this
			// process holds is freed by its death, after them.
			stopProcess(exitTerminated)
		})
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	// When the host dies, stderr is a pipe to nobody: without a handler the
	// first log line would kill us with SIGPIPE before terminate has killed
	// the CLIs' and our own process groups. A handled (not ignored) signal
	// is reset for the children we exec.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	go func() {
		s := <-sigs
		terminate("received " + s.String())
	}()
	watchParent(logger, parentAtStart, func() { terminate("parent process exited") })

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			ProtocolVersion: {PluginName: &grpcPlugin{server: srv}},
		},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts,
				grpc.MaxRecvMsgSize(MaxMessageBytes),
				grpc.MaxSendMsgSize(MaxMessageBytes),
			)
			return grpc.NewServer(opts...)
		},
		Logger: logger,
	})

	// The host closed the plugin (go-plugin stops the gRPC server without
	// waiting for handlers). Cancel what is still running and wait for it,
	// so an exit status of 0 means every call really returned (a call that
	// ignores the cancellation ends the process through stopProcess).
	cancel()
	srv.inflight.Wait()
}
