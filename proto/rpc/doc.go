// Package rpc holds what every gRPC endpoint of nightshift shares: TLS
// (mutual, from certificate files), server and dial options with flow-control
// windows set explicitly, and the Raft-and-gRPC-neutral settings both the
// coordinator and the worker use. It imports nothing else of the module.
package rpc
