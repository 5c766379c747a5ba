package sdk

import (
	"context"
	"errors"
	"os/exec"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/relay-host/relay-host/sdk/internal/relayv1"
)

// Version is the version of this SDK; Serve reports it in Describe.
const Version = "0.1.0"

// ProtocolVersion is the relay plugin protocol version negotiated through
// go-plugin's VersionedPlugins. It changes only with an incompatible .proto.
const ProtocolVersion = 1

// PluginName is the go-plugin dispense name of the provider service.
const PluginName = "provider"

// MaxMessageBytes bounds every gRPC message in both directions. go-plugin
// defaults to 2 GiB; a plugin that floods the host must hit a limit long
// before memory does, and 16 MiB is far above any packet budget or review.
const MaxMessageBytes = 16 << 20

// Handshake is the go-plugin handshake shared by relay-host and every
// provider plugin. The cookie is not a secret: it only stops a user from
// running a plugin binary by hand by mistake.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "RELAY_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "08b64570fb43031e06f7a6fb123417bd",
}

// PluginSets returns the go-plugin VersionedPlugins map for the host side:
// protocol version 1 → {"provider": …}. Dispensing PluginName yields a
// [ProviderClient]. Each call returns a fresh map.
func PluginSets() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &grpcPlugin{}},
	}
}

// GRPCDialOptions are the host-side gRPC options: explicit message size
// limits matching the server's. go-plugin applies them after its own
// defaults, so these win.
func GRPCDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageBytes),
			grpc.MaxCallSendMsgSize(MaxMessageBytes),
		),
	}
}

// NewClientConfig returns the go-plugin client configuration relay-host
// launches a plugin with: gRPC only, protocol version 1 with the relay
// cookie, AutoMTLS (relay-host turns it off and puts the socket in a private
// 0700 directory instead, which isolates it as well for a fifth of the launch
// cost), explicit message size limits, the plugin's structured
// stderr logs routed into logger at their own level, and anything the plugin
// writes to its (redirected) stdout or stderr logged as a warning by
// [StrayOutput], never mixed into review text.
//
// SkipHostEnv is set: the plugin receives cmd.Env (plus go-plugin's own
// variables) and nothing else, so the caller decides which variables reach
// it. Callers may set further fields (SecureConfig, StartTimeout, Managed)
// before calling plugin.NewClient.
func NewClientConfig(cmd *exec.Cmd, logger hclog.Logger) *plugin.ClientConfig {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: PluginSets(),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Cmd:              cmd,
		Logger:           logger,
		AutoMTLS:         true,
		SkipHostEnv:      true,
		GRPCDialOptions:  GRPCDialOptions(),
		SyncStdout:       StrayOutput(logger, "stdout"),
		SyncStderr:       StrayOutput(logger, "stderr"),
	}
}

// grpcPlugin is the go-plugin GRPCPlugin for the provider service. On the
// plugin side server is set; on the host side it is nil and only GRPCClient
// is used.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server *server
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.server == nil {
		return errors.New("sdk: provider plugin has no server; call sdk.Serve")
	}
	relayv1.RegisterProviderServiceServer(s, p.server)
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &client{rpc: relayv1.NewProviderServiceClient(conn)}, nil
}
