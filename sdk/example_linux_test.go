package sdk

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/hashicorp/go-plugin"
)

// greeter is a whole provider: a plugin binary's main is
// sdk.Serve(greeter{}).
type greeter struct{}

func (greeter) Describe(context.Context) (Description, error) {
	return Description{Name: "greeter", Version: "1.0.0", Routes: []Route{
		{Name: "default", Fact: Stateless(2, "RELAY_GREETER_CONCURRENCY_LIMIT")},
	}}, nil
}

func (greeter) Review(ctx context.Context, req ReviewRequest, ev Events) (Result, error) {
	ev.Transmission() // immediately before the source would leave the machine
	added := strings.Count(req.Packet, "\n+") - strings.Count(req.Packet, "\n+++")
	return Result{Review: fmt.Sprintf("%d line(s) added; looks fine.\n\nVerdict: APPROVE\n", added), Model: "greeter"}, nil
}

// The plugin side is one call in the plugin's main:
//
//	func main() { sdk.Serve(greeter{}) }
//
// Here this test binary is that plugin (its TestMain serves greeter when
// launched so), and the host side launches it as relay-host does: go-plugin's
// handshake, one provider client, Describe and a review.
func ExampleServe() {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), testModeEnv+"=example-greeter")
	client := plugin.NewClient(NewClientConfig(cmd, nil))
	defer client.Kill()
	rpc, err := client.Client()
	if err != nil {
		fmt.Println(err)
		return
	}
	raw, _ := rpc.Dispense(PluginName)
	p := raw.(ProviderClient)

	ctx := context.Background()
	d, _ := p.Describe(ctx)
	fmt.Println(d.Name, d.Version, d.Routes[0].Name, d.Routes[0].Fact.Kind)
	res, err := p.Review(ctx, ReviewRequest{Route: "default", Prompt: "Review this.", Packet: "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n x\n+y\n"}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(res.Review)
	// Output:
	// greeter 1.0.0 default stateless
	// 1 line(s) added; looks fine.
	//
	// Verdict: APPROVE
}
