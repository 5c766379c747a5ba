// Package sdk is everything a relay provider plugin imports, and the
// host-side client relay-host uses to talk to one.
//
// A plugin is a separate executable, relay-provider-<name>, whose main is
//
//	func main() { sdk.Serve(myProvider{}) }
//
// where myProvider implements [Provider] (and optionally [Configurer]).
// Serve speaks the relay gRPC protocol (sdk/proto/relay/v1/provider.proto)
// through hashicorp/go-plugin; plugin authors never see generated types.
//
// The host launches a plugin with [NewClientConfig] (or the pieces it is made
// of: [Handshake], [PluginSets], [GRPCDialOptions]) and uses the dispensed
// [ProviderClient].
//
// Invariants this package keeps on both sides of the wire:
//   - A Review stream carries at most one transmission event and exactly one
//     terminal event (a result or an [*Error]); nothing follows the terminal
//     event. The client rejects streams that break this.
//   - A failed review claims "not sent" only for a pre-send code ([PreSend])
//     and only when no transmission event was emitted; otherwise the claim is
//     "sent" or "may be sent".
//   - A panic in a provider call becomes an [*Error] with code
//     [CodePluginPanic]; the plugin process keeps serving.
//   - A provider call whose context is cancelled must return within
//     [CancelGrace]; if it does not, Serve logs the fault and ends the plugin
//     process, so abandoned work cannot go on (or send source) unobserved.
//   - Capability facts are validated where they are produced (Serve) and
//     again where they are consumed (the client), so a plugin that lies about
//     its facts is refused before admission.
//
// The host owns admission, process identity and sanitizing; nothing here
// touches lock files or job records.
package sdk
