// Package relayv1 is the generated Go code for sdk/proto/relay/v1/provider.proto.
//
// Invariant: every .pb.go file here is exactly what sdk/proto/generate.sh
// produces (sdk/proto/check-generated.sh enforces it), and nothing outside
// sdk/ sees these types: plugin authors and the host use the hand-written
// types of package sdk, which convert at the boundary.
package relayv1
