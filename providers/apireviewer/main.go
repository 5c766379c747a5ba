// Command relay-provider-apireviewer is the relay-host provider plugin for
// OpenAI-compatible chat-completion APIs: DeepSeek, Zhipu GLM and any
// endpoint the operator configures (a local model server too).
//
// Every route is stateless: requests are independent, so admission bounds
// them by a limit, not by shared state. The plugin holds no state between
// reviews; API keys come only from its environment (never argv, never a
// log line, never an error message), and the transmission event is emitted
// by the HTTP middleware right before the request carrying the source is
// handed to the transport, so "sent" means exactly that.
package main

import (
	"os"

	"github.com/relay-host/relay-host/sdk"
)

func main() { sdk.Serve(&provider{getenv: os.Getenv}) }
